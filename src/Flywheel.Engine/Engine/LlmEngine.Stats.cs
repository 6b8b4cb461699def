using Flywheel.Scheduling;

namespace Flywheel.Execution;

/// <summary>What the engine shows other threads: sizes, counters and callbacks (metrics, admission hints, tests).</summary>
public sealed partial class LlmEngine
{
    public EngineOptions Options { get; }

    public int ContextLength { get; }

    public int VocabSize => _model.Config.VocabSize;

    /// <summary>Requests holding a KV slot.</summary>
    public int RunningCount => _runningCount;

    /// <summary>Requests waiting for admission (in the engine's queue).</summary>
    public int WaitingCount => _waitingCount + _incoming.Reader.Count;

    /// <summary>Steps run so far.</summary>
    public long StepCount => Interlocked.Read(ref _stepCount);

    /// <summary>Fraction of the KV cache's token positions in use, 0..1.</summary>
    public double KvCacheUsage => Interlocked.Read(ref _usedTokens) / (double)((long)Options.MaxRunningRequests * ContextLength);

    /// <summary>Tokens sampled so far for all requests (the stop tokens that end requests included), whether or not anyone read them.</summary>
    public long GeneratedTokenCount => Interlocked.Read(ref _generatedTokenCount);

    /// <summary>Called on the engine thread after each step with what it ran.</summary>
    public Action<StepReport>? StepCompleted { get; set; }

    /// <summary>
    /// Called on the engine thread once for every accepted request, with the same finish event its output
    /// stream gets, whether or not its reader is still there (aborted requests included). Must not throw.
    /// </summary>
    public Action<FinishEvent>? RequestFinished { get; set; }

    /// <summary>Called on the engine thread with the seconds between two consecutive tokens of one request. Must not throw.</summary>
    public Action<double>? InterTokenLatency { get; set; }

    /// <summary>
    /// Slots in use, for invariant checks in tests: read after every request's finish event, which the
    /// engine sends only once the step has freed the request's slot.
    /// </summary>
    internal int OccupiedSlotCount => Options.MaxRunningRequests - _slots.FreeCount;

    /// <summary>Makes running count and KV usage visible to other threads.</summary>
    private void PublishStats()
    {
        var running = _scheduler.Running;
        _runningCount = running.Count;
        var used = 0L;
        for (var i = 0; i < running.Count; i++) // indexed: foreach over the interface would allocate each step
        {
            used += running[i].ComputedTokenCount;
        }

        Interlocked.Exchange(ref _usedTokens, used);
    }
}
