using Flywheel.Scheduling;

namespace Flywheel.Engine.Tests.Scheduling;

/// <summary>
/// The scheduler alone, driven by a simulated engine (no model): invariants checked after every step over
/// random workloads, for every policy.
/// </summary>
public sealed class SchedulerTests
{
    private sealed record Sim(long Id, int PromptLength, int MaxTokens, int ArrivalStep)
    {
        public int Computed { get; set; }

        public int Generated { get; set; }

        public int FinishedStep { get; set; } = -1;
    }

    [Theory]
    [InlineData(SchedulingPolicy.FlyWheel, 1)]
    [InlineData(SchedulingPolicy.FlyWheel, 2)]
    [InlineData(SchedulingPolicy.PrefillFirst, 3)]
    [InlineData(SchedulingPolicy.Sequential, 4)]
    public void InvariantsHoldOverRandomWorkloads(SchedulingPolicy policy, int seed)
    {
        var options = new EngineOptions { Policy = policy, MaxBatchTokens = 64, ChunkSize = 16, MaxRunningRequests = 6 };
        var scheduler = new Scheduler(options);
        var random = new Random(seed);
        var all = Enumerable.Range(0, 60).Select(i => new Sim(i, random.Next(1, 120), random.Next(1, 40), random.Next(0, 200))).ToList();
        var running = new List<Sim>();
        var waiting = new List<Sim>();
        var plan = new StepPlan();
        for (var step = 0; step < 5000 && all.Any(s => s.FinishedStep < 0); step++)
        {
            waiting.AddRange(all.Where(s => s.ArrivalStep == step));
            scheduler.Plan(running.Select(s => new SequenceView(s.Id, s.PromptLength, s.Computed)).ToList(), waiting.Select(s => s.PromptLength).ToList(), options.MaxRunningRequests - running.Count, plan);

            // Budget: chunked policies stay within it; prefill-first may exceed it only with one whole prompt.
            if (policy == SchedulingPolicy.FlyWheel)
            {
                Assert.True(plan.TokenCount <= options.MaxBatchTokens, $"step {step}: {plan.TokenCount} tokens");
                Assert.All(plan.Chunks, c => Assert.InRange(c.Length, 1, options.ChunkSize));
            }

            if (policy == SchedulingPolicy.PrefillFirst)
            {
                Assert.True(plan.Chunks.Count == 0 || plan.Decodes.Count == 0, "prefill-first mixes decodes with prompts");
            }

            var admitted = waiting.Take(plan.AdmittedCount).ToList();
            waiting.RemoveRange(0, plan.AdmittedCount);
            running.AddRange(admitted);
            Assert.True(running.Count <= options.MaxRunningRequests, "more running requests than slots");
            Assert.Equal(running.Count, running.Select(s => s.Id).Distinct().Count());
            if (policy == SchedulingPolicy.Sequential)
            {
                Assert.True(running.Count <= 1);
            }

            foreach (var chunk in plan.Chunks)
            {
                var s = chunk.Id < 0 ? admitted[-1 - (int)chunk.Id] : running.Single(r => r.Id == chunk.Id);
                Assert.Equal(s.Computed, chunk.Start);
                s.Computed += chunk.Length;
                Assert.True(s.Computed <= s.PromptLength);
                if (s.Computed == s.PromptLength)
                {
                    s.Generated++;
                }
            }

            foreach (var id in plan.Decodes)
            {
                var s = running.Single(r => r.Id == id);
                Assert.True(s.Computed >= s.PromptLength, "decoding a request whose prompt is not done");
                s.Computed++;
                s.Generated++;
            }

            foreach (var done in running.Where(s => s.Generated >= s.MaxTokens).ToList())
            {
                done.FinishedStep = step;
                running.Remove(done);
            }

            // Progress: whenever there is work, the step does some.
            Assert.True(plan.TokenCount > 0 || (running.Count == 0 && waiting.Count == 0), $"step {step} did nothing");
        }

        // No starvation: everything finished, and FCFS admission means requests finish roughly in order of arrival.
        Assert.All(all, s => Assert.True(s.FinishedStep >= 0, $"request {s.Id} never finished"));
    }

    [Fact]
    public void FlyWheelPutsDecodesFirstThenContinuingThenNewChunks()
    {
        var scheduler = new Scheduler(new EngineOptions { MaxBatchTokens = 20, ChunkSize = 8, MaxRunningRequests = 4 });
        var plan = new StepPlan();
        scheduler.Plan([new SequenceView(1, 5, 5), new SequenceView(2, 30, 8), new SequenceView(3, 4, 6)], [50, 50], 1, plan);
        Assert.Equal([1L, 3L], plan.Decodes);
        Assert.Equal(new PlannedChunk(2, 8, 8), plan.Chunks[0]);
        Assert.Equal(new PlannedChunk(-1, 0, 8), plan.Chunks[1]);
        Assert.Equal(1, plan.AdmittedCount);
        Assert.Equal(18, plan.TokenCount);
    }
}
