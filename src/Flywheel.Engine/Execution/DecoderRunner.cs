using System.Runtime.InteropServices;
using Flywheel.Models;
using Flywheel.Onnx;

namespace Flywheel.Execution;

/// <summary>
/// Runs the decoder graph over a contiguous range of KV-cache slots with past and present bound to the
/// same buffers (<see cref="KvCache"/>), so ONNX Runtime's GroupQueryAttention appends each row's new
/// keys/values in place at that row's own past length. Allocates nothing per call except the small
/// OrtValue views. Not thread-safe: one engine thread owns it.
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

    public DecoderRunner(InferenceSession session, GenAiConfig config, KvCache cache, int maxTokensPerRun)
    {
        _session = session;
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
    }

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
            long[] kvShape = [rowCount, _cache.KvHeadCount, _cache.MaxLength, _cache.HeadSize];
            var kvCount = _cache.SlotElementCount * rowCount;
            for (var l = 0; l < _cache.LayerCount; l++)
            {
                // The same memory is both past (input) and present (output): GQA's shared-buffer mode.
                _inputs[2 + (2 * l)] = OrtValue.CreateTensor(_cache.Keys(l, firstSlot), kvCount, kvShape);
                _inputs[3 + (2 * l)] = OrtValue.CreateTensor(_cache.Values(l, firstSlot), kvCount, kvShape);
                _outputs[1 + (2 * l)] = OrtValue.CreateTensor(_cache.Keys(l, firstSlot), kvCount, kvShape);
                _outputs[2 + (2 * l)] = OrtValue.CreateTensor(_cache.Values(l, firstSlot), kvCount, kvShape);
            }

            _session.Run(_inputNames, _inputs, _outputNames, _outputs);
        }
        finally
        {
            for (var i = 0; i < _inputs.Length; i++)
            {
                _inputs[i]?.Dispose();
                _inputs[i] = null!;
            }

            for (var i = 0; i < _outputs.Length; i++)
            {
                _outputs[i]?.Dispose();
                _outputs[i] = null;
            }
        }

        return new ReadOnlySpan<float>(_logits, checked((int)((long)tokenCount * VocabSize)));
    }

    public void Dispose()
    {
        _inputNames.Dispose();
        _outputNames.Dispose();
        NativeMemory.Free(_inputIds);
        NativeMemory.Free(_mask);
        NativeMemory.Free(_logits);
    }
}
