using System.Threading.Channels;
using Flywheel.Execution;
using Flywheel.Scheduling;

namespace Flywheel.Engine.Tests.Scheduling;

/// <summary>
/// The scheduler alone, driven by a simulated engine (no model): invariants checked after every step over
/// random workloads, for every policy.
/// </summary>
public sealed class SchedulerTests
{
    private sealed record Sim(Sequence Sequence, int MaxTokens, int ArrivalStep)
    {
        public int Generated { get; set; }

        public int FinishedStep { get; set; } = -1;
    }

    private static Sequence NewSequence(long id, int promptLength) =>
        new(id, new EngineRequest { PromptIds = new int[promptLength], MaxTokens = 1 }, Channel.CreateUnbounded<EngineEvent>().Writer, 0);

    [Theory]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 1)]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 2)]
    [InlineData(SchedulingPolicy.PrefillFirst, 3)]
    [InlineData(SchedulingPolicy.Sequential, 4)]
    public void InvariantsHoldOverRandomWorkloads(SchedulingPolicy policy, int seed)
    {
        var options = new EngineOptions { Policy = policy, MaxBatchTokens = 64, ChunkSize = 16, MaxRunningRequests = 6 };
        var scheduler = new Scheduler(options);
        var random = new Random(seed);
        var all = Enumerable.Range(0, 60).Select(i => new Sim(NewSequence(i, random.Next(1, 120)), random.Next(1, 40), random.Next(0, 200))).ToList();
        var sims = all.ToDictionary(s => s.Sequence);
        var plan = new StepPlan();
        for (var step = 0; step < 5000 && all.Any(s => s.FinishedStep < 0); step++)
        {
            foreach (var arrived in all.Where(s => s.ArrivalStep == step))
            {
                scheduler.Enqueue(arrived.Sequence);
            }

            var runningBefore = scheduler.Running.ToList();
            scheduler.Schedule(options.MaxRunningRequests - runningBefore.Count, plan);

            // Budget: chunked policies stay within it; prefill-first may exceed it only with one whole prompt.
            if (policy == SchedulingPolicy.ChunkedPrefill)
            {
                Assert.True(plan.TokenCount <= options.MaxBatchTokens, $"step {step}: {plan.TokenCount} tokens");
                Assert.All(plan.Chunks, c => Assert.InRange(c.Length, 1, options.ChunkSize));
            }

            if (policy == SchedulingPolicy.PrefillFirst)
            {
                Assert.True(plan.Chunks.Count == 0 || plan.Decodes.Count == 0, "prefill-first mixes decodes with prompts");
            }

            var running = scheduler.Running;
            Assert.Equal(runningBefore.Concat(plan.Admitted), running);
            Assert.True(running.Count <= options.MaxRunningRequests, "more running requests than slots");
            Assert.Equal(running.Count, running.Select(s => s.Id).Distinct().Count());
            if (policy == SchedulingPolicy.Sequential)
            {
                Assert.True(running.Count <= 1);
            }

            foreach (var chunk in plan.Chunks)
            {
                var s = chunk.Sequence;
                Assert.Contains(s, running);
                Assert.Equal(s.ComputedTokenCount, chunk.Start);
                s.ComputedTokenCount += chunk.Length;
                Assert.True(s.ComputedTokenCount <= s.PromptLength);
                if (s.ComputedTokenCount == s.PromptLength)
                {
                    sims[s].Generated++;
                }
            }

            foreach (var s in plan.Decodes)
            {
                Assert.Contains(s, running);
                Assert.True(s.ComputedTokenCount >= s.PromptLength, "decoding a request whose prompt is not done");
                s.ComputedTokenCount++;
                sims[s].Generated++;
            }

            foreach (var done in running.Where(s => sims[s].Generated >= sims[s].MaxTokens).ToList())
            {
                sims[done].FinishedStep = step;
                Assert.True(scheduler.Remove(done));
            }

            // Progress: whenever there is work, the step does some.
            Assert.True(plan.TokenCount > 0 || scheduler.IsIdle, $"step {step} did nothing");
        }

        // No starvation: everything finished, and FCFS admission means requests finish roughly in order of arrival.
        Assert.All(all, s => Assert.True(s.FinishedStep >= 0, $"request {s.Sequence.Id} never finished"));
    }

    [Fact]
    public void ChunkedPrefillPutsDecodesFirstThenContinuingThenNewChunks()
    {
        var scheduler = new Scheduler(new EngineOptions { MaxBatchTokens = 20, ChunkSize = 8, MaxRunningRequests = 4 });
        Sequence[] running = [NewSequence(1, 5), NewSequence(2, 30), NewSequence(3, 4)];
        (running[0].ComputedTokenCount, running[1].ComputedTokenCount, running[2].ComputedTokenCount) = (5, 8, 6);
        var waiting = new[] { NewSequence(4, 50), NewSequence(5, 50) };
        foreach (var s in running)
        {
            scheduler.Enqueue(s);
        }

        var plan = new StepPlan();
        scheduler.Schedule(4, plan); // admits the three (their counts say where they are)
        Assert.Equal(running, plan.Admitted);
        foreach (var s in waiting)
        {
            scheduler.Enqueue(s);
        }

        scheduler.Schedule(1, plan);
        Assert.Equal(new[] { running[0], running[2] }, plan.Decodes);
        Assert.Equal(new PlannedChunk(running[1], 8, 8), plan.Chunks[0]);
        Assert.Equal(new PlannedChunk(waiting[0], 0, 8), plan.Chunks[1]);
        Assert.Equal(new[] { waiting[0] }, plan.Admitted);
        Assert.Equal(18, plan.TokenCount);
    }
}
