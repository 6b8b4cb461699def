using Flywheel.Execution;

namespace Flywheel.Scheduling;

/// <summary>A prompt chunk to run: <see cref="Length"/> prompt tokens of a request starting at <see cref="Start"/>.</summary>
internal readonly record struct PlannedChunk(Sequence Sequence, int Start, int Length);

/// <summary>One step's work, as the scheduler decided it. Reused from step to step (no allocation).</summary>
internal sealed class StepPlan
{
    /// <summary>Running requests that decode one token this step.</summary>
    public List<Sequence> Decodes { get; } = [];

    /// <summary>Prompt chunks, continuing ones first, then those of newly admitted requests.</summary>
    public List<PlannedChunk> Chunks { get; } = [];

    /// <summary>Requests moved from waiting to running this step (they need a KV slot before anything runs).</summary>
    public List<Sequence> Admitted { get; } = [];

    public int TokenCount
    {
        get
        {
            var tokens = Decodes.Count;
            foreach (var c in Chunks)
            {
                tokens += c.Length;
            }

            return tokens;
        }
    }

    public void Clear()
    {
        Decodes.Clear();
        Chunks.Clear();
        Admitted.Clear();
    }
}
