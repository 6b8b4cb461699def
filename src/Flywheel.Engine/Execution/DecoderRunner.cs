using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Flywheel.Adapters;
using Flywheel.Models;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Execution;

/// <summary>
/// Runs the decoder graph over a contiguous range of KV-cache slots with past and present bound to the
/// same buffers (<see cref="KvCache"/>), so ONNX Runtime's GroupQueryAttention appends each row's new
/// keys/values in place at that row's own past length. Every tensor is a view over native memory this
/// runner or the cache owns (OrtValue.CreateTensorValueWithData), made once per shape or slot range and
/// kept; they are bound through an
/// <see cref="OrtIoBinding"/> only when they change, so a steady decode step (same rows, same slots)
/// binds nothing and allocates nothing. Not thread-safe: one engine thread owns it.
/// The KV element type is the cache's, which must be the session's past_key_values type; logits come back
/// as float32 either way: a model with float16 logits (CUDA exports) writes them into a float16 buffer that
/// each Run widens into the float32 one (no allocation).
/// </summary>
/// <remarks>
/// GroupQueryAttention on CPU accepts several rows with different past lengths only when each row adds
/// one token (decode). A prompt chunk on top of an existing past must run alone (one row); first chunks
/// of several prompts (no past) may share a Run with right padding. <see cref="Run"/> enforces this.
/// <para>
/// The attention mask is [rows, cache length] for every Run that is not a first chunk: each row's ones
/// (its past plus new tokens) give GQA its length, and the padding beyond is never read, so its shape (and
/// its OrtValue) stays the same from one decode step to the next. A first chunk (no past, several tokens)
/// keeps the exact width, since GQA takes "sequence length equals mask width" to mean a first prompt.
/// </para>
/// </remarks>
public sealed unsafe partial class DecoderRunner : IDisposable
{
    private const int MaxCachedViews = ViewCache<int>.Capacity;

    private readonly KvCache _cache;
    private readonly long* _inputIds;   // [maxTokensPerRun]
    private readonly long* _mask;       // [slots * maxLength]
    private readonly float* _logits;    // [maxTokensPerRun * vocab]
    private readonly Half* _halfLogits; // [maxTokensPerRun * vocab] what the session writes when its logits are float16, else null
    private readonly long* _chunkMask;  // [maxLength]
    private readonly BoundGraph _graph;
    private readonly BoundGraph? _mixedGraph;
    private readonly ViewCache<(int Rows, int Sequence)> _ids;
    private readonly ViewCache<(int Rows, int Width)> _masks;
    private readonly ViewCache<(int Rows, int Sequence)> _logitViews;
    private readonly ViewCache<(int Offset, int Length)> _chunkIds;
    private readonly ViewCache<int> _chunkMasks;
    private readonly Dictionary<(int FirstSlot, int Rows), OrtValue[]> _kvViews = [];

    /// <summary>
    /// Creates a runner over <paramref name="cache"/>; with <paramref name="mixedSession"/> (a folder's
    /// <see cref="ModelFolder.MixedSession"/>) it can also run decodes and a chunk together (<see cref="RunMixed"/>).
    /// A LoRA-capable graph reads <paramref name="adapters"/> (owned by the caller); without them it gets zero
    /// buffers of its own, so such a graph also runs as the plain base model.
    /// </summary>
    public DecoderRunner(InferenceSession session, GenAiConfig config, KvCache cache, int maxTokensPerRun, InferenceSession? mixedSession = null, AdapterSlots? adapters = null)
    {
        _cache = cache;
        VocabSize = config.VocabSize;
        var halfLogits = CheckTypes(session, config, cache);
        if (mixedSession is not null && CheckTypes(mixedSession, config, cache) != halfLogits)
        {
            throw new ArgumentException("the mixed graph's logits type differs from the decoder's", nameof(mixedSession));
        }

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

        // A Run holds at most maxTokensPerRun tokens in total (rows * sequence length), and logits come
        // back for every one of them.
        _inputIds = (long*)NativeMemory.Alloc((nuint)maxTokensPerRun, sizeof(long));
        _mask = (long*)NativeMemory.Alloc((nuint)((long)cache.SlotCount * cache.MaxLength), sizeof(long));
        _logits = (float*)NativeMemory.Alloc((nuint)((long)maxTokensPerRun * VocabSize), sizeof(float));
        _halfLogits = halfLogits ? (Half*)NativeMemory.Alloc((nuint)((long)maxTokensPerRun * VocabSize), (nuint)sizeof(Half)) : null;
        _chunkMask = (long*)NativeMemory.Alloc((nuint)cache.MaxLength, sizeof(long));
        var baseInputCount = inputs.Count;
        _adapters = adapters ?? AdapterSlots.ForSession(session, cache.LayerCount, slotCount: 1, rank: 1);
        _ownsAdapters = adapters is null;
        AddLoraNames(inputs, mixed: false);
        _graph = new BoundGraph(session, inputs, outputs);
        BindLoraBuffers(_graph, baseInputCount + 1);
        _ids = new ViewCache<(int, int)>(k => View(_inputIds, k.Item1, k.Item2));
        _masks = new ViewCache<(int, int)>(k => View(_mask, k.Item1, k.Item2));
        _logitViews = new ViewCache<(int, int)>(k => halfLogits
            ? OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Float16, [k.Item1, k.Item2, VocabSize], (nint)_halfLogits, (long)k.Item1 * k.Item2 * VocabSize * sizeof(Half))
            : View(_logits, k.Item1, k.Item2, VocabSize));
        _chunkIds = new ViewCache<(int, int)>(k => View(_inputIds + k.Item1, 1, k.Item2));
        _chunkMasks = new ViewCache<int>(width => View(_chunkMask, 1, width));
        if (mixedSession is not null)
        {
            // The mixed graph: the decode stream under the config's names, then the chunk stream.
            var mixedInputs = new List<string>(inputs.Take(baseInputCount)) { ModelFolder.MixedNames.ChunkIds, ModelFolder.MixedNames.ChunkMask };
            var mixedOutputs = new List<string>(outputs);
            for (var l = 0; l < cache.LayerCount; l++)
            {
                mixedInputs.Add(ModelFolder.MixedNames.ChunkPast(l, "key"));
                mixedInputs.Add(ModelFolder.MixedNames.ChunkPast(l, "value"));
                mixedOutputs.Add(ModelFolder.MixedNames.ChunkPresent(l, "key"));
                mixedOutputs.Add(ModelFolder.MixedNames.ChunkPresent(l, "value"));
            }

            var mixedBaseCount = mixedInputs.Count;
            AddLoraNames(mixedInputs, mixed: true);
            _mixedGraph = new BoundGraph(mixedSession, mixedInputs, mixedOutputs);
            BindLoraBuffers(_mixedGraph, mixedBaseCount + 2);
        }
    }

    /// <summary>Whether <see cref="RunMixed"/> is available (the model folder has the mixed graph).</summary>
    public bool CanRunMixed => _mixedGraph is not null;

    public int VocabSize { get; }

    /// <summary>Most tokens (rows times sequence length) one Run may carry.</summary>
    public int MaxTokensPerRun { get; }

    /// <summary>
    /// Feeds <paramref name="sequenceLength"/> tokens to each of <paramref name="rowCount"/> slots starting at
    /// <paramref name="firstSlot"/>. Row r's tokens are <paramref name="tokenIds"/>[r*S .. r*S+S) and land at
    /// positions pastLengths[r] onward; <paramref name="validLengths"/>[r] (≤ S) says how many of them are real
    /// (the rest is right padding, allowed only for first chunks). Returns logits [rows, S, vocab], valid until the next Run.
    /// </summary>
    /// <param name="adapterSlots">Each row's adapter slot ([rows]; empty: every row runs the base model).</param>
    public ReadOnlySpan<float> Run(int firstSlot, int rowCount, int sequenceLength, scoped ReadOnlySpan<long> tokenIds, scoped ReadOnlySpan<int> pastLengths, scoped ReadOnlySpan<int> validLengths, scoped ReadOnlySpan<int> adapterSlots = default)
    {
        var tokenCount = rowCount * sequenceLength;
        if (rowCount < 1 || sequenceLength < 1 || firstSlot < 0 || firstSlot + rowCount > _cache.SlotCount || tokenCount > MaxTokensPerRun)
        {
            throw new ArgumentOutOfRangeException(nameof(rowCount), $"run of {rowCount}x{sequenceLength} tokens at slot {firstSlot} does not fit");
        }

        var exactWidth = 0;
        var anyPast = false;
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

            exactWidth = Math.Max(exactWidth, pastLengths[r] + validLengths[r]);
            anyPast |= pastLengths[r] > 0;
        }

        // See the remarks: only a first chunk needs the exact width.
        var width = sequenceLength > 1 && !anyPast ? exactWidth : _cache.MaxLength;
        tokenIds[..tokenCount].CopyTo(new Span<long>(_inputIds, tokenCount));
        FillMask(_mask, width, rowCount, pastLengths, validLengths);

        var kv = KvViews(firstSlot, rowCount);
        _graph.Bind(0, _ids.Get((rowCount, sequenceLength)), input: true);
        _graph.Bind(1, _masks.Get((rowCount, width)), input: true);
        _graph.Bind(0, _logitViews.Get((rowCount, sequenceLength)), input: false);
        BindKv(_graph, kv, inputOffset: 2, outputOffset: 1);
        BindAdapterIds(_graph, 2 + (2 * _cache.LayerCount), rowCount, adapterSlots);
        _graph.Run();
        return Logits(tokenCount);
    }

    /// <summary>
    /// One Run of the mixed graph: <paramref name="rowCount"/> decode rows over slots [firstSlot, firstSlot + rows)
    /// (one token each, row r on top of pastLengths[r]) and one prompt chunk for <paramref name="chunkSlot"/>
    /// (outside the decode range) on top of <paramref name="chunkPast"/> positions. Every MatMul sees the
    /// rows' and the chunk's tokens together, so the weights are streamed once for both. Returns logits
    /// [rows + chunk length, vocab]: the decode rows first, then every chunk position; valid until the next Run.
    /// </summary>
    /// <param name="adapterSlots">Each decode row's adapter slot ([rows]; empty: the base model).</param>
    /// <param name="chunkAdapterSlot">The chunk's adapter slot (0: the base model).</param>
    public ReadOnlySpan<float> RunMixed(int firstSlot, int rowCount, scoped ReadOnlySpan<long> decodeIds, scoped ReadOnlySpan<int> pastLengths, int chunkSlot, scoped ReadOnlySpan<long> chunkIds, int chunkPast, scoped ReadOnlySpan<int> adapterSlots = default, int chunkAdapterSlot = 0)
    {
        if (_mixedGraph is null)
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

        for (var r = 0; r < rowCount; r++)
        {
            if (pastLengths[r] + 1 > _cache.MaxLength)
            {
                throw new ArgumentOutOfRangeException(nameof(pastLengths), $"row {r}: a token after {pastLengths[r]} exceeds the cache length {_cache.MaxLength}");
            }
        }

        decodeIds[..rowCount].CopyTo(new Span<long>(_inputIds, rowCount));
        chunkIds.CopyTo(new Span<long>(_inputIds + rowCount, chunkLength));
        FillMask(_mask, _cache.MaxLength, rowCount, pastLengths, validLengths: default);

        // The chunk stream keeps its exact mask width: a chunk with no past is a first prompt to GQA.
        var chunkWidth = chunkPast + chunkLength;
        new Span<long>(_chunkMask, chunkWidth).Fill(1);
        var layers = _cache.LayerCount;
        var chunkInputs = 2 + (2 * layers);
        var chunkOutputs = 1 + (2 * layers); // the chunk's presents follow the decode stream's
        var g = _mixedGraph;
        g.Bind(0, _ids.Get((rowCount, 1)), input: true);
        g.Bind(1, _masks.Get((rowCount, _cache.MaxLength)), input: true);
        g.Bind(chunkInputs, _chunkIds.Get((rowCount, chunkLength)), input: true);
        g.Bind(chunkInputs + 1, _chunkMasks.Get(chunkWidth), input: true);
        // Logits [tokens, 1, vocab]: the same memory as a decode Run's [rows, 1, vocab].
        g.Bind(0, _logitViews.Get((tokenCount, 1)), input: false);
        BindKv(g, KvViews(firstSlot, rowCount), inputOffset: 2, outputOffset: 1);
        BindKv(g, KvViews(chunkSlot, 1), inputOffset: chunkInputs + 2, outputOffset: chunkOutputs);
        BindAdapterIds(g, chunkInputs + 2 + (2 * layers), rowCount, adapterSlots, chunkAdapterSlot);
        g.Run();
        return Logits(tokenCount);
    }

    /// <summary>The first <paramref name="tokenCount"/> rows of logits as float32 (widened from float16 when the model writes those).</summary>
    private ReadOnlySpan<float> Logits(int tokenCount)
    {
        var count = checked((int)((long)tokenCount * VocabSize));
        var logits = new Span<float>(_logits, count);
        if (_halfLogits is not null)
        {
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>(_halfLogits, count), logits);
        }

        return logits;
    }

    /// <summary>
    /// Checks that the session's past_key_values type is the cache's and its logits are float32 or float16
    /// (returns true for float16); throws <see cref="ArgumentException"/> naming the tensor and its type otherwise.
    /// </summary>
    private static bool CheckTypes(InferenceSession session, GenAiConfig config, KvCache cache)
    {
        var d = config.Decoder;
        var pastName = DecoderConfig.LayerName(d.PastKeyNames, 0);
        if (session.InputMetadata.TryGetValue(pastName, out var past) && past.ElementDataType != cache.ElementType)
        {
            throw new ArgumentException($"input '{pastName}' is {past.ElementDataType} but the KV cache holds {cache.ElementType}: allocate the cache with the model's KV element type", nameof(cache));
        }

        var logits = session.OutputMetadata.TryGetValue(d.LogitsName, out var info) ? info.ElementDataType : OrtElementType.Float;
        return logits switch
        {
            OrtElementType.Float => false,
            OrtElementType.Float16 => true,
            _ => throw new ArgumentException($"output '{d.LogitsName}' is {logits}; the engine reads Float or Float16 logits", nameof(session)),
        };
    }

    /// <summary>Cached KV views handed out so far (for tests).</summary>
    internal int KvViewSetCount => _kvViews.Count;

    /// <summary>Bind calls made so far, inputs and outputs, both graphs (for tests: a steady decode makes none).</summary>
    internal long BindCount => _graph.BindCount + (_mixedGraph?.BindCount ?? 0);

    /// <summary>
    /// attention_mask [rows, width]: row r has ones over its own past + valid tokens (one when
    /// <paramref name="validLengths"/> is empty), zeros after, so the graph's seqlens_k (row sum - 1) tells
    /// GQA each row's length.
    /// </summary>
    private static void FillMask(long* mask, int width, int rowCount, scoped ReadOnlySpan<int> pastLengths, scoped ReadOnlySpan<int> validLengths)
    {
        var all = new Span<long>(mask, rowCount * width);
        for (var r = 0; r < rowCount; r++)
        {
            var row = all.Slice(r * width, width);
            var filled = pastLengths[r] + (validLengths.IsEmpty ? 1 : validLengths[r]);
            row[..filled].Fill(1);
            row[filled..].Clear();
        }
    }

    private void BindKv(BoundGraph graph, OrtValue[] kv, int inputOffset, int outputOffset)
    {
        for (var l = 0; l < _cache.LayerCount; l++)
        {
            graph.Bind(inputOffset + (2 * l), kv[4 * l], input: true);
            graph.Bind(inputOffset + 1 + (2 * l), kv[(4 * l) + 1], input: true);
            graph.Bind(outputOffset + (2 * l), kv[(4 * l) + 2], input: false);
            graph.Bind(outputOffset + 1 + (2 * l), kv[(4 * l) + 3], input: false);
        }
    }

    /// <summary>
    /// Past and present views (key, value, key, value per layer) over slots [firstSlot, firstSlot + rows),
    /// made on first use. Decode ranges change only when the running count does, so few sets exist; the
    /// cache is emptied if it ever grows past <see cref="MaxCachedViews"/> (prompt chunks visit many slots).
    /// </summary>
    private OrtValue[] KvViews(int firstSlot, int rows)
    {
        if (_kvViews.TryGetValue((firstSlot, rows), out var views))
        {
            return views;
        }

        if (_kvViews.Count >= MaxCachedViews)
        {
            DisposeKvViews();
        }

        var count = _cache.SlotElementCount * rows;
        views = new OrtValue[4 * _cache.LayerCount];
        for (var l = 0; l < _cache.LayerCount; l++)
        {
            // The same memory is both past (input) and present (output): GQA's shared-buffer mode.
            views[4 * l] = KvView(_cache.Keys(l, firstSlot), count, rows);
            views[(4 * l) + 1] = KvView(_cache.Values(l, firstSlot), count, rows);
            views[(4 * l) + 2] = KvView(_cache.Keys(l, firstSlot), count, rows);
            views[(4 * l) + 3] = KvView(_cache.Values(l, firstSlot), count, rows);
        }

        _kvViews.Add((firstSlot, rows), views);
        return views;
    }

    private OrtValue KvView(byte* data, long count, int rows) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, _cache.ElementType,
            [rows, _cache.KvHeadCount, _cache.MaxLength, _cache.HeadSize], (nint)data, count * _cache.ElementSize);

    private static OrtValue View(long* data, int rows, int columns) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64,
            [rows, columns], (nint)data, (long)rows * columns * sizeof(long));

    private static OrtValue View(float* data, int rows, int sequence, int vocab) =>
        OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float,
            [rows, sequence, vocab], (nint)data, (long)rows * sequence * vocab * sizeof(float));

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
        _graph.Dispose();
        _mixedGraph?.Dispose();
        DisposeKvViews();
        _ids.Dispose();
        _masks.Dispose();
        _logitViews.Dispose();
        _chunkIds.Dispose();
        _chunkMasks.Dispose();
        NativeMemory.Free(_chunkMask);
        NativeMemory.Free(_inputIds);
        NativeMemory.Free(_mask);
        NativeMemory.Free(_logits);
        NativeMemory.Free(_halfLogits);
        DisposeLora();
    }
}
