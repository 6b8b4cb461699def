using System.Collections.Concurrent;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Running;

/// <summary>
/// Runs one phase: issues requests open-loop (by an arrival process) or closed-loop (N users),
/// within the phase's bounds, then waits for what is in flight, cutting it at the hard deadline.
/// </summary>
internal sealed class LoadRunner(OpenAiClient client, WorkloadGenerator workload, RunClock clock, ProgressTracker progress)
{
    /// <summary>Consecutive connection failures after which issuing stops: the server is gone, and a closed loop would spin.</summary>
    internal const int ConnectionErrorLimit = 32;

    public async Task<PhaseResult> RunAsync(PhasePlan plan, int firstIndex, CancellationToken userStop)
    {
        progress.Phase = plan.Name;
        var phaseStart = clock.ElapsedSeconds;
        var issueSeconds = plan.WarmupSeconds + plan.IssueSeconds;
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(userStop);
        hardStop.CancelAfter(TimeSpan.FromSeconds(issueSeconds) + plan.RequestTimeout + TimeSpan.FromSeconds(5));
        using var issueStop = CancellationTokenSource.CreateLinkedTokenSource(hardStop.Token);
        issueStop.CancelAfter(TimeSpan.FromSeconds(issueSeconds));

        var state = new IssueState(firstIndex);
        var records = new ConcurrentBag<RequestRecord>();

        bool TryClaim(out int index, out bool isWarmup)
        {
            index = 0;
            var elapsed = clock.ElapsedSeconds - phaseStart;
            isWarmup = elapsed < plan.WarmupSeconds;
            if (issueStop.IsCancellationRequested || elapsed >= issueSeconds)
            {
                return false;
            }
            if (progress.ConsecutiveConnectionErrors >= ConnectionErrorLimit)
            {
                state.StoppedEarly = $"stopped after {ConnectionErrorLimit} connection errors in a row: the server is not answering";
                return false;
            }
            if (!isWarmup && plan.RequestCount is { } limit && Interlocked.Increment(ref state.MeasuredClaimed) > limit)
            {
                return false;
            }
            index = Interlocked.Increment(ref state.NextIndex) - 1;
            return true;
        }

        async Task SendOneAsync(int index, bool isWarmup)
        {
            var request = workload.Create(index);
            progress.OnSent();
            var context = new RequestContext(plan.Step, isWarmup, clock.ElapsedSeconds, plan.RequestTimeout);
            var record = await client.SendAsync(request, context, progress.OnContentChunk, hardStop.Token);
            records.Add(record);
            progress.OnFinished(record);
        }

        if (plan.Arrival is null)
        {
            var users = Enumerable.Range(0, plan.Concurrency).Select(_ => Task.Run(async () =>
            {
                while (TryClaim(out var index, out var isWarmup))
                {
                    await SendOneAsync(index, isWarmup);
                }
            }));
            await Task.WhenAll(users);
        }
        else
        {
            await IssueOpenLoopAsync(plan, phaseStart, TryClaim, SendOneAsync, issueStop.Token);
        }

        var ordered = records.OrderBy(r => r.Index).ToList();
        return new PhaseResult(plan, ordered, state.NextIndex, userStop.IsCancellationRequested ? "stopped by the user" : state.StoppedEarly);
    }

    private delegate bool ClaimFunc(out int index, out bool isWarmup);

    private async Task IssueOpenLoopAsync(
        PhasePlan plan, double phaseStart, ClaimFunc tryClaim, Func<int, bool, Task> send, CancellationToken issueStop)
    {
        using var slots = plan.MaxInFlight is { } max ? new SemaphoreSlim(max, max) : null;
        var inFlight = new List<Task>();
        // Arrival times are absolute offsets from the phase start, so a late wake-up does not push
        // every later request back (no drift): the process, not the sleep, sets the rate.
        var due = 0.0;
        while (true)
        {
            var wait = due - (clock.ElapsedSeconds - phaseStart);
            try
            {
                if (wait > 0)
                {
                    await Task.Delay(TimeSpan.FromSeconds(wait), issueStop);
                }
                if (slots is not null)
                {
                    await slots.WaitAsync(issueStop);
                }
            }
            catch (OperationCanceledException)
            {
                break;
            }
            if (!tryClaim(out var index, out var isWarmup))
            {
                slots?.Release();
                break;
            }
            // Task.Run: building the prompt and starting the send must not hold up the next arrival.
            inFlight.Add(Task.Run(async () =>
            {
                try
                {
                    await send(index, isWarmup);
                }
                finally
                {
                    slots?.Release();
                }
            }));
            due += plan.Arrival!.NextIntervalSeconds();
        }
        await Task.WhenAll(inFlight);
    }

    private sealed class IssueState(int firstIndex)
    {
        public int NextIndex = firstIndex;
        public int MeasuredClaimed;
        public volatile string? StoppedEarly;
    }
}
