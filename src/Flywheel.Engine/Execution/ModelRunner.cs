using Flywheel.Adapters;
using Flywheel.Models;
using Flywheel.Scheduling;

namespace Flywheel.Execution;

/// <summary>
/// Executes the Runs a <see cref="RunPlanner"/> planned on the <see cref="DecoderRunner"/>: writes each
/// Run's token ids, past lengths and valid lengths into scratch buffers sized once, runs it, advances the
/// requests' computed-token counts, and lists which logits rows to sample (<see cref="SampleRows"/>).
/// Engine thread only.
/// </summary>
internal sealed class ModelRunner : IDisposable
{
    private readonly DecoderRunner _runner;
    private readonly long[] _ids;        // [max(MaxTokensPerRun, MaxRunningRequests)] token ids of one Run
    private readonly int[] _past;        // [MaxRunningRequests] per-row past lengths of the decode Run
    private readonly int[] _valid;       // [MaxRunningRequests] ones
    private readonly int[] _zeros;       // [MaxRunningRequests] past lengths of a first-chunk Run
    private readonly int[] _chunkValid;  // [MaxRunningRequests] real tokens per row of a first-chunk Run
    private readonly int[] _adapters;    // [MaxRunningRequests] adapter slot per row of a Run

    /// <param name="adapters">The stacked LoRA buffers, when the model's graph takes adapters (owned by the caller).</param>
    public ModelRunner(ModelFolder model, KvCache cache, EngineOptions options, AdapterSlots? adapters = null)
    {
        var rows = options.MaxRunningRequests;
        // A mixed graph written without the LoRA inputs cannot carry adapter rows: such a step runs as separate Runs.
        var mixed = options.MixedRuns && !options.OneAdapterPerRun && model.MixedSession is { } m
            && (adapters is null || m.InputMetadata.ContainsKey(LoraGraphNames.SlotIds)) ? model.MixedSession : null;
        _runner = new DecoderRunner(model.Session, model.Config, cache, Math.Max(options.MaxBatchTokens, rows), mixed, adapters);
        _ids = new long[Math.Max(_runner.MaxTokensPerRun, rows)];
        _past = new int[rows];
        _valid = new int[rows];
        _valid.AsSpan().Fill(1);
        _zeros = new int[rows];
        _chunkValid = new int[rows];
        _adapters = new int[rows];
    }

    public int VocabSize => _runner.VocabSize;

    public int MaxTokensPerRun => _runner.MaxTokensPerRun;

    public bool CanRunMixed => _runner.CanRunMixed;

    /// <summary>
    /// After <see cref="Execute"/>: the requests that take a token from this Run, each with its row of the
    /// logits, in the order to sample them (a prompt that completed, then the decode rows).
    /// </summary>
    public List<(Sequence Sequence, int LogitsRow)> SampleRows { get; } = [];

    /// <summary>Runs <paramref name="run"/>; returns its logits [tokens, vocab], valid until the next Run.</summary>
    public ReadOnlySpan<float> Execute(in Run run, RunPlanner planner)
    {
        SampleRows.Clear();
        return run.Kind switch
        {
            RunKind.Decode => RunDecode(planner.DecodeRows, run.First, run.Rows == 0 ? planner.DecodeRows.Count : run.Rows),
            RunKind.Chunk => RunChunk(run.Chunk!, run.Start, run.Length),
            RunKind.FirstChunks => RunFirstChunks(planner.FirstChunks, run.First, run.Rows, run.Width),
            _ => RunMixed(planner.DecodeRows, run.Chunk!, run.Start, run.Length),
        };
    }

    private ReadOnlySpan<float> RunChunk(Sequence s, int start, int length)
    {
        for (var i = 0; i < length; i++)
        {
            _ids[i] = s.Tokens[start + i];
        }

        var logits = _runner.Run(s.Slot, 1, length, _ids.AsSpan(0, length), [start], [length], [s.AdapterSlot]);
        s.ComputedTokenCount = start + length;
        SampleIfPromptDone(s, length - 1);
        return logits;
    }

    private ReadOnlySpan<float> RunFirstChunks(List<(Sequence Sequence, int Length)> chunks, int begin, int rows, int width)
    {
        for (var r = 0; r < rows; r++)
        {
            var (s, length) = chunks[begin + r];
            var row = _ids.AsSpan(r * width, width);
            for (var i = 0; i < length; i++)
            {
                row[i] = s.Tokens[i];
            }

            row[length..].Clear();
            _chunkValid[r] = length;
            _adapters[r] = s.AdapterSlot;
        }

        var logits = _runner.Run(chunks[begin].Sequence.Slot, rows, width, _ids.AsSpan(0, rows * width), _zeros.AsSpan(0, rows), _chunkValid.AsSpan(0, rows), _adapters.AsSpan(0, rows));
        for (var r = 0; r < rows; r++)
        {
            // Prompts that completed take their first token from the row's last real position.
            var (s, length) = chunks[begin + r];
            s.ComputedTokenCount = length;
            SampleIfPromptDone(s, (r * width) + length - 1);
        }

        return logits;
    }

    /// <summary>Decode rows [begin, begin + count) of <paramref name="rows"/> (all of them, unless adapters run one per Run).</summary>
    private ReadOnlySpan<float> RunDecode(List<Sequence> rows, int begin, int count)
    {
        var first = PrepareDecodeRows(rows, begin, count);
        var logits = _runner.Run(first, count, 1, _ids.AsSpan(0, count), _past.AsSpan(0, count), _valid.AsSpan(0, count), _adapters.AsSpan(0, count));
        AdvanceDecodeRows(rows, begin, count);
        return logits;
    }

    /// <summary>The decodes and one prompt chunk in a single Run of the mixed graph: logits rows are the decodes, then the chunk.</summary>
    private ReadOnlySpan<float> RunMixed(List<Sequence> rows, Sequence s, int start, int length)
    {
        var first = PrepareDecodeRows(rows, 0, rows.Count);
        var chunk = _ids.AsSpan(rows.Count, length);
        for (var i = 0; i < length; i++)
        {
            chunk[i] = s.Tokens[start + i];
        }

        var logits = _runner.RunMixed(first, rows.Count, _ids.AsSpan(0, rows.Count), _past.AsSpan(0, rows.Count), s.Slot, chunk, start, _adapters.AsSpan(0, rows.Count), s.AdapterSlot);
        s.ComputedTokenCount = start + length;

        // The chunk's request first, as when the chunk runs before the decodes.
        SampleIfPromptDone(s, rows.Count + length - 1);
        AdvanceDecodeRows(rows, 0, rows.Count);
        return logits;
    }

    /// <summary>Writes decode rows [begin, begin + count)'s next input tokens, past lengths and adapters to _ids / _past / _adapters [0, count); returns the first slot.</summary>
    private int PrepareDecodeRows(List<Sequence> rows, int begin, int count)
    {
        var first = rows[begin].Slot;
        if (rows[begin + count - 1].Slot - first + 1 != count)
        {
            throw new InvalidOperationException("decoding requests are not in contiguous slots");
        }

        for (var r = 0; r < count; r++)
        {
            var s = rows[begin + r];
            _ids[r] = s.Tokens[s.ComputedTokenCount];
            _past[r] = s.ComputedTokenCount;
            _adapters[r] = s.AdapterSlot;
        }

        return first;
    }

    private void AdvanceDecodeRows(List<Sequence> rows, int begin, int count)
    {
        for (var r = 0; r < count; r++)
        {
            rows[begin + r].ComputedTokenCount++;
            SampleRows.Add((rows[begin + r], r));
        }
    }

    private void SampleIfPromptDone(Sequence s, int logitsRow)
    {
        if (s.ComputedTokenCount == s.PromptLength)
        {
            SampleRows.Add((s, logitsRow));
        }
    }

    public void Dispose() => _runner.Dispose();
}
