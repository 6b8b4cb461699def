using Flywheel.Execution;

namespace Flywheel.Scheduling;

/// <summary>
/// Turns a step's plan into model Runs: the scheduler says which tokens run, this says how they group.
/// Continuing chunks run alone (GroupQueryAttention takes a chunk on top of a past only as one row), in
/// pieces when larger than a Run; first chunks of neighbouring slots share right-padded Runs while the
/// padding costs less than the Run it saves (<see cref="EngineOptions.RunOverheadTokens"/>); the decode
/// rows run last in one Run, together with one chunk when the mixed graph is there. Reuses its lists
/// from step to step (no allocation).
/// </summary>
/// <param name="oneAdapterPerRun">
/// Only rows of one LoRA adapter share a Run (<see cref="EngineOptions.OneAdapterPerRun"/>): decode rows run
/// in Runs of neighbouring slots with the same adapter, first chunks group only with the same adapter.
/// </param>
internal sealed class RunPlanner(int maxTokensPerRun, bool canRunMixed, int runOverheadTokens, bool oneAdapterPerRun = false)
{
    private static readonly Comparison<Sequence> BySlot = (a, b) => a.Slot.CompareTo(b.Slot);

    /// <summary>This step's Runs, in the order they run.</summary>
    public List<Run> Runs { get; } = [];

    /// <summary>The decode rows in slot order (slots [0, D), one Run over the range).</summary>
    public List<Sequence> DecodeRows { get; } = [];

    /// <summary>This step's first chunks (no past yet) in slot order, with their lengths.</summary>
    public List<(Sequence Sequence, int Length)> FirstChunks { get; } = [];

    /// <summary>Plans the Runs of <paramref name="plan"/>; every admitted request must hold its slot already.</summary>
    public void Plan(StepPlan plan)
    {
        Runs.Clear();
        FirstChunks.Clear();
        DecodeRows.Clear();
        DecodeRows.AddRange(plan.Decodes);
        DecodeRows.Sort(BySlot);
        var mixed = MixedChunk(plan.Chunks);
        for (var i = 0; i < plan.Chunks.Count; i++)
        {
            var (s, start, length) = plan.Chunks[i];
            if (i == mixed)
            {
                continue; // runs with the decodes, last
            }

            if (start == 0 && length <= maxTokensPerRun)
            {
                FirstChunks.Add((s, length));
                continue;
            }

            // A chunk larger than one Run can carry (prefill-first, sequential) runs in pieces within this step.
            for (var offset = 0; offset < length; offset += maxTokensPerRun)
            {
                Runs.Add(new Run(RunKind.Chunk, s, start + offset, Math.Min(maxTokensPerRun, length - offset)));
            }
        }

        GroupFirstChunks();
        if (mixed >= 0)
        {
            var (s, start, length) = plan.Chunks[mixed];
            Runs.Add(new Run(RunKind.Mixed, s, start, length));
        }
        else if (oneAdapterPerRun)
        {
            for (int begin = 0, end; begin < DecodeRows.Count; begin = end)
            {
                for (end = begin + 1; end < DecodeRows.Count && DecodeRows[end].AdapterSlot == DecodeRows[begin].AdapterSlot; end++)
                {
                }

                Runs.Add(new Run(RunKind.Decode, First: begin, Rows: end - begin));
            }
        }
        else if (DecodeRows.Count > 0)
        {
            Runs.Add(new Run(RunKind.Decode));
        }
    }

    /// <summary>
    /// The chunk that runs in one mixed Run with the decodes, or -1: with the mixed graph and decodes to run,
    /// the first chunk that continues a prompt (it would need a Run of its own), else the longest first
    /// chunk (the rest of the first chunks still share their padded Run).
    /// </summary>
    private int MixedChunk(List<PlannedChunk> chunks)
    {
        if (!canRunMixed || DecodeRows.Count == 0)
        {
            return -1;
        }

        var best = -1;
        for (var i = 0; i < chunks.Count; i++)
        {
            var c = chunks[i];
            if (DecodeRows.Count + c.Length > maxTokensPerRun)
            {
                continue;
            }

            if (c.Start > 0)
            {
                return i;
            }

            if (best < 0 || c.Length > chunks[best].Length)
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>
    /// Groups neighbours in slot order into one padded Run while the group fits in one Run and padding
    /// costs less than the Run it saves; a group of one is a plain chunk Run.
    /// </summary>
    private void GroupFirstChunks()
    {
        FirstChunks.Sort(static (a, b) => a.Sequence.Slot.CompareTo(b.Sequence.Slot));
        var begin = 0;
        while (begin < FirstChunks.Count)
        {
            var (end, width) = (begin + 1, FirstChunks[begin].Length);
            while (end < FirstChunks.Count && FirstChunks[end].Sequence.Slot == FirstChunks[end - 1].Sequence.Slot + 1
                && (!oneAdapterPerRun || FirstChunks[end].Sequence.AdapterSlot == FirstChunks[begin].Sequence.AdapterSlot))
            {
                var length = FirstChunks[end].Length;
                var rows = end - begin + 1;
                var merged = rows * Math.Max(width, length);
                var separate = ((rows - 1) * width) + length + runOverheadTokens;
                if (merged > maxTokensPerRun || merged > separate)
                {
                    break;
                }

                width = Math.Max(width, length);
                end++;
            }

            Runs.Add(end - begin == 1
                ? new Run(RunKind.Chunk, FirstChunks[begin].Sequence, 0, FirstChunks[begin].Length)
                : new Run(RunKind.FirstChunks, First: begin, Rows: end - begin, Width: width));
            begin = end;
        }
    }
}
