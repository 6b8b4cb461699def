using Flywheel.Execution;

namespace Flywheel.Scheduling;

/// <summary>What kind of model Run a <see cref="Run"/> is.</summary>
internal enum RunKind
{
    /// <summary>
    /// The step's decode rows alone, one token each, over slots [0, D); with <see cref="Run.Rows"/> set, only
    /// decode rows [First, First + Rows) (one adapter per Run).
    /// </summary>
    Decode,

    /// <summary>One prompt chunk (or a piece of one that exceeds a Run) on its own slot, on top of its past.</summary>
    Chunk,

    /// <summary>First chunks of several prompts in neighbouring slots, right-padded to one width.</summary>
    FirstChunks,

    /// <summary>The decode rows and one prompt chunk in a single Run of the mixed graph.</summary>
    Mixed,
}

/// <summary>
/// One model Run of a step, as <see cref="RunPlanner"/> planned it. Decode and Mixed Runs take their rows
/// from <see cref="RunPlanner.DecodeRows"/>; a FirstChunks Run takes <see cref="Rows"/> entries of
/// <see cref="RunPlanner.FirstChunks"/> from <see cref="First"/>, each padded to <see cref="Width"/>.
/// </summary>
/// <param name="Chunk">The prompt chunk's request (Chunk and Mixed).</param>
/// <param name="Start">Position of the chunk's first token (Chunk and Mixed).</param>
/// <param name="Length">Tokens of the chunk (Chunk and Mixed).</param>
internal readonly record struct Run(RunKind Kind, Sequence? Chunk = null, int Start = 0, int Length = 0, int First = 0, int Rows = 0, int Width = 0);
