namespace Flywheel.Scheduling;

/// <summary>Which scheduling policy the engine runs (compared side by side by <c>flywheel bench</c>).</summary>
public enum SchedulingPolicy
{
    /// <summary>Every step: running decodes first, then prompt chunks (continuing, then new) under the token budget.</summary>
    FlyWheel,

    /// <summary>Classic continuous batching: while any prompt is pending, whole prompts run and decodes wait; no chunking.</summary>
    PrefillFirst,

    /// <summary>One request at a time, start to finish.</summary>
    Sequential,
}

/// <summary>Engine sizing and policy.</summary>
public sealed record EngineOptions
{
    /// <summary>Tokens one step may process (decode rows + prompt-chunk tokens).</summary>
    public int MaxBatchTokens { get; init; } = 256;

    /// <summary>
    /// Largest prompt chunk. Defaults to the whole budget: the budget already bounds a step's time, and a
    /// smaller chunk only splits the same tokens over more Runs, each of which reads every weight once
    /// (20-30 tokens' worth of work on CPU, see <c>LlmEngine.RunOverheadTokens</c>).
    /// </summary>
    public int ChunkSize { get; init; } = 256;

    /// <summary>Requests holding a KV slot at once.</summary>
    public int MaxRunningRequests { get; init; } = 16;

    /// <summary>Requests that may wait for admission before submissions are refused (429).</summary>
    public int QueueCapacity { get; init; } = 256;

    public SchedulingPolicy Policy { get; init; } = SchedulingPolicy.FlyWheel;

    /// <summary>
    /// Run a step's decodes together with one prompt chunk as a single Run of the model folder's mixed graph,
    /// when it has one (folders Flywheel builds do). Off by default: on the 2-core CPU machine measured it was
    /// within a few percent either way of separate Runs (README, "How a step maps onto ONNX Runtime"), for a
    /// second copy of the weights.
    /// </summary>
    public bool MixedRuns { get; init; }

    public static SchedulingPolicy ParsePolicy(string name) => name switch
    {
        "flywheel" => SchedulingPolicy.FlyWheel,
        "prefill-first" => SchedulingPolicy.PrefillFirst,
        "sequential" => SchedulingPolicy.Sequential,
        _ => throw new ArgumentException($"unknown policy '{name}' (flywheel, prefill-first, sequential)"),
    };

    public static string PolicyName(SchedulingPolicy policy) => policy switch
    {
        SchedulingPolicy.FlyWheel => "flywheel",
        SchedulingPolicy.PrefillFirst => "prefill-first",
        _ => "sequential",
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting.</summary>
    public void Validate()
    {
        if (MaxRunningRequests < 1 || ChunkSize < 1 || QueueCapacity < 1)
        {
            throw new ArgumentException("MaxRunningRequests, ChunkSize and QueueCapacity must be at least 1");
        }

        if (MaxBatchTokens < MaxRunningRequests + 1)
        {
            throw new ArgumentException($"MaxBatchTokens ({MaxBatchTokens}) must exceed MaxRunningRequests ({MaxRunningRequests}) so every running request decodes each step and prompts still progress");
        }
    }
}
