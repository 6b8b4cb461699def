// Lives with the engine (queue, mixed Runs and the Run-cost model are engine settings, not scheduling ones);
// the namespace stays Flywheel.Scheduling so that callers' usings did not change.
namespace Flywheel.Scheduling;

/// <summary>Engine sizing and policy.</summary>
public sealed record EngineOptions
{
    /// <summary>Tokens one step may process (decode rows + prompt-chunk tokens).</summary>
    public int MaxBatchTokens { get; init; } = 256;

    /// <summary>
    /// Largest prompt chunk. Defaults to the whole budget: the budget already bounds a step's time, and a
    /// smaller chunk only splits the same tokens over more Runs, each of which reads every weight once
    /// (see <see cref="RunOverheadTokens"/>).
    /// </summary>
    public int ChunkSize { get; init; } = 256;

    /// <summary>Requests holding a KV slot at once.</summary>
    public int MaxRunningRequests { get; init; } = 16;

    /// <summary>Requests that may wait for admission before submissions are refused (429).</summary>
    public int QueueCapacity { get; init; } = 256;

    public SchedulingPolicy Policy { get; init; } = SchedulingPolicy.ChunkedPrefill;

    /// <summary>
    /// Run a step's decodes together with one prompt chunk as a single Run of the model folder's mixed graph,
    /// when it has one (folders Flywheel builds do). Off by default: on the 2-core CPU machine measured it was
    /// within a few percent either way of separate Runs (README, "How a step maps onto ONNX Runtime"), for a
    /// second copy of the weights.
    /// </summary>
    public bool MixedRuns { get; init; }

    /// <summary>
    /// The fixed cost of one model Run in tokens' worth of work (every Run streams all weights once): first
    /// chunks of several prompts share one right-padded Run while the padding costs less than this. The
    /// <c>run-cost</c> benchmark measures it for a model and machine (fixed ms per Run / ms per token).
    /// </summary>
    public int RunOverheadTokens { get; init; } = 24;

    /// <summary>Adapter slots resident at once (--max-loras); 0 = no adapters. Slot 0 (the base) is extra.</summary>
    public int MaxLoraCount { get; init; }

    /// <summary>Highest adapter rank the stacked buffers hold (--max-lora-rank).</summary>
    public int MaxLoraRank { get; init; } = 16;

    /// <summary>
    /// Only rows of one adapter share a Run, as where one adapter is active per Run (ORT's LoRA API, ORT GenAI's
    /// SetActiveAdapter). For comparison in benchmarks: mixing adapters in one Run is the point of the stacked
    /// buffers. Turns mixed Runs off.
    /// </summary>
    public bool OneAdapterPerRun { get; init; }

    /// <summary>Parses a policy name (see <see cref="SchedulingPolicies.Parse"/>).</summary>
    public static SchedulingPolicy ParsePolicy(string name) => SchedulingPolicies.Parse(name);

    /// <summary>The name of a policy (see <see cref="SchedulingPolicies.Name"/>).</summary>
    public static string PolicyName(SchedulingPolicy policy) => SchedulingPolicies.Name(policy);

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

        if (MaxLoraCount < 0 || MaxLoraRank < 1)
        {
            throw new ArgumentException("MaxLoraCount must not be negative and MaxLoraRank must be at least 1");
        }

        if (RunOverheadTokens < 0)
        {
            throw new ArgumentException("RunOverheadTokens must not be negative");
        }
    }
}
