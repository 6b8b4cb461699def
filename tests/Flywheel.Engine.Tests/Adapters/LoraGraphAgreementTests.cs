using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models;
using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>
/// The LoRA-capable graph with adapters in the stacked buffers matches, row by row, the double-precision
/// reference over each row's merged weights W + scale (B A)^T: one Run holding rows of three different
/// adapters (different ranks and targets) and the base, for first chunks, decodes, a chunk over a past and a
/// mixed Run. A base row next to adapter rows is bit-identical to the plain graph's.
/// </summary>
public sealed class LoraGraphAgreementTests : IDisposable
{
    private const double Tolerance = 1e-4;
    private static readonly int[][] Prompts = [[5, 17, 42, 7, 250, 3], [9, 8, 7], [1, 2, 3, 4, 5], [200, 100]];

    /// <summary>Row r's adapter slot: slots 1..3 hold adapters, row 2 is the base.</summary>
    private static readonly int[] RowAdapters = [1, 3, 0, 2];

    private readonly GenAiConfig _config = GenAiConfig.Load(Path.Combine(TinyLoraModel.Dir, "genai_config.json"));
    private readonly InferenceSession _session, _mixedSession;
    private readonly KvCache _cache;
    private readonly AdapterSlots _slots;
    private readonly DecoderRunner _runner;
    private readonly PeftAdapter[] _adapters;

    public LoraGraphAgreementTests()
    {
        using var options = OnnxEnvironment.CreateSessionOptions();
        _session = new InferenceSession(Path.Combine(TinyLoraModel.Dir, "model.onnx"), options);
        _mixedSession = new InferenceSession(Path.Combine(TinyLoraModel.Dir, ModelFolder.MixedFileName), options);
        var d = _config.Decoder;
        _cache = new KvCache(d.NumHiddenLayers, slotCount: 6, d.NumKeyValueHeads, _config.ContextLength, d.HeadSize);
        _slots = AdapterSlots.ForSession(_session, d.NumHiddenLayers, slotCount: 4, rank: 8)!;
        _runner = new DecoderRunner(_session, _config, _cache, maxTokensPerRun: 64, _mixedSession, _slots);
        _adapters =
        [
            Load(AdapterFolder.Config(rank: 8, alpha: 16), seed: 11),
            Load(AdapterFolder.Config(rank: 2, alpha: 4, rsLora: true, targets: [LoraTarget.QProj, LoraTarget.VProj, LoraTarget.DownProj]), seed: 12),
            Load(AdapterFolder.Config(rank: 4, alpha: 8, targets: [LoraTarget.GateProj, LoraTarget.UpProj, LoraTarget.OProj, LoraTarget.KProj]), seed: 13),
        ];
        for (var i = 0; i < _adapters.Length; i++)
        {
            Assert.Null(_slots.Refusal(_adapters[i]));
            _slots.Write(i + 1, _adapters[i]);
        }
    }

    public void Dispose()
    {
        _runner.Dispose();
        _slots.Dispose();
        _cache.Dispose();
        _mixedSession.Dispose();
        _session.Dispose();
    }

    private static PeftAdapter Load(PeftAdapterConfig config, int seed) => PeftAdapter.Load(AdapterFolder.Write(config, seed), AdapterFolder.Shape, maxRank: 8);

    /// <summary>A reference for slot <paramref name="adapterSlot"/>: the base, or the base with that adapter merged in.</summary>
    private ReferenceModel Reference(int adapterSlot)
    {
        var weights = ReferenceModel.ReadWeights(Path.Combine(TinyLoraModel.Dir, "model.onnx"));
        return new ReferenceModel(adapterSlot == 0 ? weights : ReferenceModel.MergedWeights(weights, _adapters[adapterSlot - 1], _config.Decoder.NumHiddenLayers), _config);
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        Assert.True(maxDiff / maxRef < Tolerance, $"{what}: relative error {maxDiff / maxRef:E2}");
    }

    /// <summary>Runs every prompt as right-padded first chunks in one Run (rows of all four adapters), checking each row.</summary>
    private ReferenceModel[] PrefillAll()
    {
        var vocab = _config.VocabSize;
        var width = Prompts.Max(p => p.Length);
        var ids = new long[Prompts.Length * width];
        for (var r = 0; r < Prompts.Length; r++)
        {
            Prompts[r].Select(t => (long)t).ToArray().CopyTo(ids, r * width);
        }

        var references = RowAdapters.Select(Reference).ToArray();
        var logits = _runner.Run(0, Prompts.Length, width, ids, new int[Prompts.Length], Prompts.Select(p => p.Length).ToArray(), RowAdapters).ToArray();
        for (var r = 0; r < Prompts.Length; r++)
        {
            var expected = references[r].Forward(Prompts[r]);
            for (var t = 0; t < Prompts[r].Length; t++)
            {
                AssertClose(expected[t], logits.AsSpan(((r * width) + t) * vocab, vocab), $"first chunk row {r} (adapter slot {RowAdapters[r]}) position {t}");
            }
        }

        return references;
    }

    [Fact]
    public void FirstChunksDecodesAndAChunkOverAPastMatchEachRowsMergedReference()
    {
        var vocab = _config.VocabSize;
        var references = PrefillAll();
        var past = Prompts.Select(p => p.Length).ToArray();
        foreach (var step in new[] { new[] { 20, 21, 22, 23 }, [30, 31, 32, 33] })
        {
            var logits = _runner.Run(0, Prompts.Length, 1, step.Select(t => (long)t).ToArray(), past, [1, 1, 1, 1], RowAdapters).ToArray();
            for (var r = 0; r < Prompts.Length; r++)
            {
                AssertClose(references[r].Forward([step[r]])[0], logits.AsSpan(r * vocab, vocab), $"decode row {r} (adapter slot {RowAdapters[r]}) at {past[r]}");
                past[r]++;
            }
        }

        // A continuing chunk of row 3 (adapter slot 2) on top of its past.
        int[] chunk = [40, 41, 42];
        var chunkLogits = _runner.Run(3, 1, chunk.Length, chunk.Select(t => (long)t).ToArray(), [past[3]], [chunk.Length], [RowAdapters[3]]).ToArray();
        var chunkExpected = references[3].Forward(chunk);
        for (var t = 0; t < chunk.Length; t++)
        {
            AssertClose(chunkExpected[t], chunkLogits.AsSpan(t * vocab, vocab), $"chunk position {t}");
        }
    }

    [Fact]
    public void AMixedRunOfDecodesAndAChunkMatchesEachRowsMergedReference()
    {
        var vocab = _config.VocabSize;
        var references = PrefillAll();
        var past = Prompts.Select(p => p.Length).ToArray();

        // Decode rows 0..2 (adapter slots 1, 3, 0) and a chunk for row 3 (adapter slot 2) in one Run.
        int[] decode = [50, 51, 52];
        int[] chunk = [60, 61, 62, 63];
        var logits = _runner.RunMixed(0, 3, decode.Select(t => (long)t).ToArray(), past.AsSpan(0, 3), 3, chunk.Select(t => (long)t).ToArray(), past[3], RowAdapters.AsSpan(0, 3), RowAdapters[3]).ToArray();
        for (var r = 0; r < 3; r++)
        {
            AssertClose(references[r].Forward([decode[r]])[0], logits.AsSpan(r * vocab, vocab), $"mixed decode row {r} (adapter slot {RowAdapters[r]})");
        }

        var chunkExpected = references[3].Forward(chunk);
        for (var t = 0; t < chunk.Length; t++)
        {
            AssertClose(chunkExpected[t], logits.AsSpan((3 + t) * vocab, vocab), $"mixed chunk position {t}");
        }
    }

    [Fact]
    public void TheBoundSlotsFollowTheHighestLoadedSlot()
    {
        // The runner binds views of slots 0 .. highest loaded only; unloading the highest shrinks them and
        // loading it again grows them, and every Run still matches the reference.
        Assert.Equal(4, _slots.BoundSlotCount);
        _slots.Clear(3);
        Assert.Equal(3, _slots.BoundSlotCount);
        PrefillAndDecode([1, 0, 2, 2], "three slots bound");
        _slots.Write(3, _adapters[2]);
        Assert.Equal(4, _slots.BoundSlotCount);
        PrefillAndDecode([3, 3, 1, 0], "four slots bound again");
    }

    [Fact]
    public void DecodeRowsGroupedBySlotMatchWhateverTheSpread()
    {
        // Several base rows (all read the zero group's one position), a slot with no rows (a group of padding
        // only), and one slot holding every adapter row (the largest group pads the others to its size).
        PrefillAndDecode([0, 2, 0, 2], "two base rows, two rows on one adapter");
        PrefillAndDecode([3, 3, 3, 3], "every row on one adapter");
        PrefillAndDecode([0, 0, 0, 1], "three base rows");
    }

    [Fact]
    public void AnAdapterWithANonFiniteWeightIsRefused()
    {
        // A non-finite weight would turn every output of its rows into NaN or infinity.
        var bad = PeftAdapter.Load(AdapterFolder.Write(AdapterFolder.Config(rank: 2), seed: 5, bScale: double.PositiveInfinity), AdapterFolder.Shape, maxRank: 8);
        Assert.Contains("not a finite number", _slots.Refusal(bad));
    }

    /// <summary>Prefills each prompt on its own adapter, then decodes every row in one Run; both against the reference.</summary>
    private void PrefillAndDecode(int[] rowAdapters, string what)
    {
        var vocab = _config.VocabSize;
        var references = rowAdapters.Select(Reference).ToArray();
        for (var r = 0; r < Prompts.Length; r++)
        {
            var prompt = Prompts[r];
            var logits = _runner.Run(r, 1, prompt.Length, prompt.Select(t => (long)t).ToArray(), [0], [prompt.Length], [rowAdapters[r]]).ToArray();
            var expected = references[r].Forward(prompt);
            AssertClose(expected[^1], logits.AsSpan((prompt.Length - 1) * vocab, vocab), $"{what}: row {r} prompt");
        }

        int[] next = [20, 21, 22, 23];
        var decode = _runner.Run(0, Prompts.Length, 1, next.Select(t => (long)t).ToArray(), Prompts.Select(p => p.Length).ToArray(), [1, 1, 1, 1], rowAdapters).ToArray();
        for (var r = 0; r < Prompts.Length; r++)
        {
            AssertClose(references[r].Forward([next[r]])[0], decode.AsSpan(r * vocab, vocab), $"{what}: row {r} decode");
        }
    }

    [Fact]
    public void ABaseRowNextToAdapterRowsIsBitIdenticalToThePlainGraph()
    {
        using var options = OnnxEnvironment.CreateSessionOptions();
        using var plainSession = new InferenceSession(Path.Combine(TinyModel.Dir, "model.onnx"), options);
        var d = _config.Decoder;
        using var plainCache = new KvCache(d.NumHiddenLayers, slotCount: 6, d.NumKeyValueHeads, _config.ContextLength, d.HeadSize);
        using var plain = new DecoderRunner(plainSession, _config, plainCache, maxTokensPerRun: 64);
        var vocab = _config.VocabSize;
        var width = Prompts.Max(p => p.Length);
        var ids = new long[Prompts.Length * width];
        for (var r = 0; r < Prompts.Length; r++)
        {
            Prompts[r].Select(t => (long)t).ToArray().CopyTo(ids, r * width);
        }

        var lengths = Prompts.Select(p => p.Length).ToArray();
        var withAdapters = _runner.Run(0, Prompts.Length, width, ids, new int[Prompts.Length], lengths, RowAdapters).ToArray();
        var baseOnly = plain.Run(0, Prompts.Length, width, ids, new int[Prompts.Length], lengths).ToArray();
        const int baseRow = 2;
        Assert.Equal(0, RowAdapters[baseRow]);
        Assert.Equal(baseOnly.AsSpan(baseRow * width * vocab, lengths[baseRow] * vocab).ToArray(), withAdapters.AsSpan(baseRow * width * vocab, lengths[baseRow] * vocab).ToArray());
        Assert.NotEqual(baseOnly.AsSpan(0, vocab).ToArray(), withAdapters.AsSpan(0, vocab).ToArray()); // row 0 has an adapter
    }
}
