using System.Runtime.InteropServices;
using Flywheel.Models;
using Flywheel.Onnx;

namespace Flywheel.Execution;

/// <summary>
/// Runs the decoder graph over a contiguous range of KV-cache slots with past and present bound to the
/// same buffers (<see cref="KvCache"/>), so ONNX Runtime's GroupQueryAttention appends each row's new
/// keys/values in place at that row's own past length. Allocates nothing per call except three small
/// OrtValue views (ids, mask, logits); the past/present views of a slot range are made once and kept
/// (<see cref="KvViews"/>), since a decode loop runs the same range step after step. Not thread-safe: one
/// engine thread owns it.
/// </summary>
/// <remarks>
/// GroupQueryAttention on CPU accepts several rows with different past lengths only when each row adds
/// one token (decode). A prompt chunk on top of an existing past must run alone (one row); first chunks
/// of several prompts (no past) may share a Run with right padding. <see cref="Run"/> enforces this.
/// </remarks>
public sealed unsafe class DecoderRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly KvCache _cache;
    private readonly NativeNames _inputNames;
    private readonly NativeNames _outputNames;
    private readonly long* _inputIds;   // [maxRows * maxTokens]
    private readonly long* _mask;       // [maxRows * maxLength]
    private readonly float* _logits;    // [maxRows * maxTokens * vocab] upper bound, see ctor
    private readonly long _logitsCapacity;
    private readonly OrtValue[] _inputs;
    private readonly OrtValue?[] _outputs;
    private readonly Dictionary<(int FirstSlot, int Rows), OrtValue[]> _kvViews = [];
    private readonly InferenceSession? _mixed;
    private readonly NativeNames? _mixedInputNames;
    private readonly NativeNames? _mixedOutputNames;
    private readonly OrtValue[] _mixedInputs = [];
    private readonly OrtValue?[] _mixedOutputs = [];
    private readonly long* _chunkMask;  // [maxLength]

    /// <summary>
    /// Creates a runner over <paramref name="cache"/>; with <paramref name="mixedSession"/> (a folder's
    /// <see cref="ModelFolder.MixedSession"/>) it can also run decodes and a chunk together (<see cref="RunMixed"/>).
    /// </summary>
    public DecoderRunner(InferenceSession session, GenAiConfig config, KvCache cache, int maxTokensPerRun, InferenceSession? mixedSession = null)
    {
        _session = session;
        _mixed = mixedSession;
        _cache = cache;
        VocabSize = config.VocabSize;
        MaxTokensPerRun = maxTokensPerRun;
        var d = config.Decoder;
        var inputs = new List<string> { d.InputIdsName, d.AttentionMaskName };
        var outputs = new List<string> { d.LogitsName };
        for (var l = 0; l < cache.LayerCount; l++)
        {
            inputs.Add(DecoderConfig.LayerName(d.PastKeyNames, l));
            inputs.Add(DecoderConfig.LayerName(d.PastValueNames, l));
            outputs.Add(DecoderConfig.LayerName(d.PresentKeyNames, l));
            outputs.Add(DecoderConfig.LayerName(d.PresentValueNames, l));
        }

        _inputNames = new NativeNames(inputs.ToArray());
        _outputNames = new NativeNames(outputs.ToArray());
        _inputs = new OrtValue[inputs.Count];
        _outputs = new OrtValue?[outputs.Count];
        // A Run holds at most maxTokensPerRun tokens in total (rows * sequence length), and logits come
        // back for every one of them.
        _inputIds = (long*)NativeMemory.Alloc((nuint)maxTokensPerRun, sizeof(long));
        _mask = (long*)NativeMemory.Alloc((nuint)((long)cache.SlotCount * cache.MaxLength), sizeof(long));
        _logitsCapacity = (long)maxTokensPerRun * VocabSize;
        _logits = (float*)NativeMemory.Alloc((nuint)_logitsCapacity, sizeof(float));
        _chunkMask = (long*)NativeMemory.Alloc((nuint)cache.MaxLength, sizeof(long));
        if (mixedSession is not null)
        {
            // The mixed graph: the decode stream under the config's names, then the chunk stream.
            var mixedInputs = new List<string>(inputs) { ModelFolder.MixedNames.ChunkIds, ModelFolder.MixedNames.ChunkMask };
            var mixedOutputs = new List<string>(outputs);
            for (var l = 0; l < cache.LayerCount; l++)
            {
                mixedInputs.Add(ModelFolder.MixedNames.ChunkPast(l, "key"));
                mixedInputs.Add(ModelFolder.MixedNames.ChunkPast(l, "value"));
                mixedOutputs.Add(ModelFolder.MixedNames.ChunkPresent(l, "key"));
                mixedOutputs.Add(ModelFolder.MixedNames.ChunkPresent(l, "value"));
            }

            _mixedInputNames = new NativeNames(mixedInputs.ToArray());
            _mixedOutputNames = new NativeNames(mixedOutputs.ToArray());
            _mixedInputs = new OrtValue[mixedInputs.Count];
            _mixedOutputs = new OrtValue?[mixedOutputs.Count];
        }
    }

    /// <summary>Whether <see cref="RunMixed"/> is available (the model folder has the mixed graph).</summary>
    public bool CanRunMixed => _mixed is not null;

    public int VocabSize { get; }

    /// <summary>Most tokens (rows times sequence length) one Run may carry.</summary>
    public int MaxTokensPerRun { get; }

    /// <summary>
    /// Feeds <paramref name="sequenceLength"/> tokens to each of <paramref name="rowCount"/> slots starting at
    /// <paramref name="firstSlot"/>. Row r's tokens are <paramref name="tokenIds"/>[r*S .. r*S+S) and land at
    /// positions pastLengths[r] onward; <paramref name="validLengths"/>[r] (≤ S) says how many of them are real
    /// (the rest is right padding, allowed only for first chunks). Returns logits [rows, S, vocab], valid until the next Run.
    /// </summary>
    public ReadOnlySpan<float> Run(int firstSlot, int rowCount, int sequenceLength, scoped ReadOnlySpan<long> tokenIds, scoped ReadOnlySpan<int> pastLengths, scoped ReadOnlySpan<int> validLengths)
    {
        var tokenCount = rowCount * sequenceLength;
        if (rowCount < 1 || sequenceLength < 1 || firstSlot < 0 || firstSlot + rowCount > _cache.SlotCount || tokenCount > MaxTokensPerRun)
        {
            throw new ArgumentOutOfRangeException(nameof(rowCount), $"run of {rowCount}x{sequenceLength} tokens at slot {firstSlot} does not fit");
        }

        var width = 0;
        for (var r = 0; r < rowCount; r++)
        {
            if (sequenceLength > 1 && rowCount > 1 && pastLengths[r] > 0)
            {
                throw new ArgumentException("GroupQueryAttention runs a multi-token chunk over an existing past only with one row.");
            }

            if (validLengths[r] < 1 || validLengths[r] > sequenceLength || pastLengths[r] + validLengths[r] > _cache.MaxLength)
            {
                throw new ArgumentOutOfRangeException(nameof(validLengths), $"row {r}: {validLengths[r]} tokens after {pastLengths[r]} exceed the cache length {_cache.MaxLength}");
            }

            width = Math.Max(width, pastLengths[r] + validLengths[r]);
        }

        tokenIds[..tokenCount].CopyTo(new Span<long>(_inputIds, tokenCount));
        // attention_mask [rows, width]: row r has ones over its own past + valid tokens, zeros after, so the
        // graph's seqlens_k (row sum - 1) tells GQA each row's length.
        var mask = new Span<long>(_mask, rowCount * width);
        for (var r = 0; r < rowCount; r++)
        {
            var row = mask.Slice(r * width, width);
            var filled = pastLengths[r] + validLengths[r];
            row[..filled].Fill(1);
            row[filled..].Clear();
        }

        try
        {
            _inputs[0] = OrtValue.CreateTensor(_inputIds, tokenCount, [rowCount, sequenceLength]);
            _inputs[1] = OrtValue.CreateTensor(_mask, rowCount * width, [rowCount, width]);
            _outputs[0] = OrtValue.CreateTensor(_logits, (long)tokenCount * VocabSize, [rowCount, sequenceLength, VocabSize]);
            var kv = KvViews(firstSlot, rowCount);
            for (var l = 0; l < _cache.LayerCount; l++)
            {
                _inputs[2 + (2 * l)] = kv[4 * l];
                _inputs[3 + (2 * l)] = kv[(4 * l) + 1];
                _outputs[1 + (2 * l)] = kv[(4 * l) + 2];
                _outputs[2 + (2 * l)] = kv[(4 * l) + 3];
            }

            _session.Run(_inputNames, _inputs, _outputNames, _outputs);
        }
        finally
        {
            // Only the per-call views are disposed; the KV views belong to _kvViews.
            _inputs[0]?.Dispose();
            _inputs[1]?.Dispose();
            _outputs[0]?.Dispose();
            Array.Clear(_inputs);
            Array.Clear(_outputs);
        }

        return new ReadOnlySpan<float>(_logits, checked((int)((long)tokenCount * VocabSize)));
    }

    /// <summary>
    /// One Run of the mixed graph: <paramref name="rowCount"/> decode rows over slots [firstSlot, firstSlot + rows)
    /// (one token each, row r on top of pastLengths[r]) and one prompt chunk for <paramref name="chunkSlot"/>
    /// (outside the decode range) on top of <paramref name="chunkPast"/> positions. Every MatMul sees the
    /// rows' and the chunk's tokens together, so the weights are streamed once for both. Returns logits
    /// [rows + chunk length, vocab]: the decode rows first, then every chunk position; valid until the next Run.
    /// </summary>
    public ReadOnlySpan<float> RunMixed(int firstSlot, int rowCount, scoped ReadOnlySpan<long> decodeIds, scoped ReadOnlySpan<int> pastLengths, int chunkSlot, scoped ReadOnlySpan<long> chunkIds, int chunkPast)
    {
        if (_mixed is null)
        {
            throw new InvalidOperationException("the model folder has no mixed graph");
        }

        var chunkLength = chunkIds.Length;
        var tokenCount = rowCount + chunkLength;
        if (rowCount < 1 || chunkLength < 1 || firstSlot < 0 || firstSlot + rowCount > _cache.SlotCount || tokenCount > MaxTokensPerRun
            || chunkSlot < 0 || chunkSlot >= _cache.SlotCount || (chunkSlot >= firstSlot && chunkSlot < firstSlot + rowCount)
            || chunkPast < 0 || chunkPast + chunkLength > _cache.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(rowCount), $"mixed run of {rowCount} decode rows at slot {firstSlot} and {chunkLength} chunk tokens at slot {chunkSlot} (past {chunkPast}) does not fit");
        }

        var width = 0;
        for (var r = 0; r < rowCount; r++)
        {
            if (pastLengths[r] + 1 > _cache.MaxLength)
            {
                throw new ArgumentOutOfRangeException(nameof(pastLengths), $"row {r}: a token after {pastLengths[r]} exceeds the cache length {_cache.MaxLength}");
            }

            width = Math.Max(width, pastLengths[r] + 1);
        }

        decodeIds[..rowCount].CopyTo(new Span<long>(_inputIds, rowCount));
        chunkIds.CopyTo(new Span<long>(_inputIds + rowCount, chunkLength));
        var mask = new Span<long>(_mask, rowCount * width);
        for (var r = 0; r < rowCount; r++)
        {
            var row = mask.Slice(r * width, width);
            row[..(pastLengths[r] + 1)].Fill(1);
            row[(pastLengths[r] + 1)..].Clear();
        }

        var chunkWidth = chunkPast + chunkLength;
        new Span<long>(_chunkMask, chunkWidth).Fill(1);
        var layers = _cache.LayerCount;
        var chunkInputs = 2 + (2 * layers);
        var chunkOutputs = 1 + (2 * layers); // the chunk's presents follow the decode stream's
        try
        {
            _mixedInputs[0] = OrtValue.CreateTensor(_inputIds, rowCount, [rowCount, 1]);
            _mixedInputs[1] = OrtValue.CreateTensor(_mask, rowCount * width, [rowCount, width]);
            _mixedInputs[chunkInputs] = OrtValue.CreateTensor(_inputIds + rowCount, chunkLength, [1, chunkLength]);
            _mixedInputs[chunkInputs + 1] = OrtValue.CreateTensor(_chunkMask, chunkWidth, [1, chunkWidth]);
            _mixedOutputs[0] = OrtValue.CreateTensor(_logits, (long)tokenCount * VocabSize, [tokenCount, 1, VocabSize]);
            var kv = KvViews(firstSlot, rowCount);
            var chunkKv = KvViews(chunkSlot, 1);
            for (var l = 0; l < layers; l++)
            {
                _mixedInputs[2 + (2 * l)] = kv[4 * l];
                _mixedInputs[3 + (2 * l)] = kv[(4 * l) + 1];
                _mixedOutputs[1 + (2 * l)] = kv[(4 * l) + 2];
                _mixedOutputs[2 + (2 * l)] = kv[(4 * l) + 3];
                _mixedInputs[chunkInputs + 2 + (2 * l)] = chunkKv[4 * l];
                _mixedInputs[chunkInputs + 3 + (2 * l)] = chunkKv[(4 * l) + 1];
                _mixedOutputs[chunkOutputs + (2 * l)] = chunkKv[(4 * l) + 2];
                _mixedOutputs[chunkOutputs + 1 + (2 * l)] = chunkKv[(4 * l) + 3];
            }

            _mixed.Run(_mixedInputNames!, _mixedInputs, _mixedOutputNames!, _mixedOutputs);
        }
        finally
        {
            _mixedInputs[0]?.Dispose();
            _mixedInputs[1]?.Dispose();
            _mixedInputs[chunkInputs]?.Dispose();
            _mixedInputs[chunkInputs + 1]?.Dispose();
            _mixedOutputs[0]?.Dispose();
            Array.Clear(_mixedInputs);
            Array.Clear(_mixedOutputs);
        }

        return new ReadOnlySpan<float>(_logits, checked((int)((long)tokenCount * VocabSize)));
    }

    /// <summary>Cached KV views handed out so far (for tests).</summary>
    internal int KvViewSetCount => _kvViews.Count;

    /// <summary>
    /// Past and present views (key, value, key, value per layer) over slots [firstSlot, firstSlot + rows),
    /// made on first use. Decode ranges change only when the running count does, so few sets exist; the
    /// cache is emptied if it ever grows past <see cref="MaxKvViewSets"/> (prompt chunks visit many slots).
    /// </summary>
    private OrtValue[] KvViews(int firstSlot, int rows)
    {
        if (_kvViews.TryGetValue((firstSlot, rows), out var views))
        {
            return views;
        }

        if (_kvViews.Count >= MaxKvViewSets)
        {
            DisposeKvViews();
        }

        long[] shape = [rows, _cache.KvHeadCount, _cache.MaxLength, _cache.HeadSize];
        var count = _cache.SlotElementCount * rows;
        views = new OrtValue[4 * _cache.LayerCount];
        for (var l = 0; l < _cache.LayerCount; l++)
        {
            // The same memory is both past (input) and present (output): GQA's shared-buffer mode.
            views[4 * l] = OrtValue.CreateTensor(_cache.Keys(l, firstSlot), count, shape);
            views[(4 * l) + 1] = OrtValue.CreateTensor(_cache.Values(l, firstSlot), count, shape);
            views[(4 * l) + 2] = OrtValue.CreateTensor(_cache.Keys(l, firstSlot), count, shape);
            views[(4 * l) + 3] = OrtValue.CreateTensor(_cache.Values(l, firstSlot), count, shape);
        }

        _kvViews.Add((firstSlot, rows), views);
        return views;
    }

    private const int MaxKvViewSets = 256;

    private void DisposeKvViews()
    {
        foreach (var set in _kvViews.Values)
        {
            foreach (var v in set)
            {
                v.Dispose();
            }
        }

        _kvViews.Clear();
    }

    public void Dispose()
    {
        DisposeKvViews();
        _inputNames.Dispose();
        _outputNames.Dispose();
        _mixedInputNames?.Dispose();
        _mixedOutputNames?.Dispose();
        NativeMemory.Free(_chunkMask);
        NativeMemory.Free(_inputIds);
        NativeMemory.Free(_mask);
        NativeMemory.Free(_logits);
    }
}
