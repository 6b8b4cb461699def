using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Microsoft.ML.OnnxRuntime;
using Xunit.Abstractions;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// An int4 folder (MatMulNBits, block 32) against the double-precision reference, which dequantizes the packed
/// weights as the op defines them. At accuracy level 0 (fp32 compute) the only difference left is float
/// rounding, so fp32's tolerance holds. At level 4 the op also rounds each projection's input to int8 per block
/// of 32 (scale = max|x| / 127), an error of at most max|x| / 254 per element; the reference that rounds its
/// inputs the same way agrees to float rounding, and the exact reference differs by what that rounding costs,
/// measured and bounded below.
/// </summary>
public sealed class Int4ReferenceAgreementTests(ITestOutputHelper output)
{
    private const double Fp32Tolerance = 1e-4;

    // Level 4 against the exact reference: rounding to int8 moves each projection input by up to 1/254 (0.4%) of
    // its block's largest magnitude, and the tiny model chains 7 projections per layer over 2 layers plus lm_head,
    // each adding such an error in the worst case. Measured on this model: max relative error 1.75e-2 (max abs
    // 0.225 on logits up to about 13). That the int8-rounding reference agrees to 4e-7 shows this rounding is
    // the whole difference; 5e-2 bounds it with room for other prompts.
    private const double Int8ActivationTolerance = 5e-2;

    private static readonly Dictionary<int, Lazy<string>> Folders = new()
    {
        [0] = new(() => Write(0)),
        [4] = new(() => Write(4)),
    };

    private static string Write(int accuracyLevel)
    {
        var dir = TestScratch.Path($"int4-acc{accuracyLevel}-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { VocabSize = 300, ContextLength = 512, Precision = ModelPrecision.Int4, AccuracyLevel = accuracyLevel }, tokenizerJsonPath: null);
        return dir;
    }

    internal static string Folder(int accuracyLevel) => Folders[accuracyLevel].Value;

    [Theory]
    [InlineData(0, false, Fp32Tolerance)]
    [InlineData(4, true, Fp32Tolerance)]
    [InlineData(4, false, Int8ActivationTolerance)]
    public void PromptAndDecodeLogitsMatchTheDequantizingReference(int accuracyLevel, bool referenceRoundsActivations, double tolerance)
    {
        using var ort = new OrtDecoder(Folder(accuracyLevel));
        var reference = new ReferenceModel(Path.Combine(Folder(accuracyLevel), "model.onnx"), ort.Config) { Int8ActivationBlock = referenceRoundsActivations ? 32 : null };
        var vocab = ort.Config.VocabSize;
        int[] prompt = [5, 17, 42, 7, 250, 3];
        var expected = reference.Forward(prompt);
        var logits = ort.Run(prompt, 0).ToArray();
        double worst = 0, worstAbs = 0;
        for (var t = 0; t < prompt.Length; t++)
        {
            var (rel, abs) = Error(expected[t], logits.AsSpan(t * vocab, vocab));
            (worst, worstAbs) = (Math.Max(worst, rel), Math.Max(worstAbs, abs));
        }

        var past = prompt.Length;
        foreach (var token in new[] { 11, 99, 123, 8, 64 })
        {
            var (rel, abs) = Error(reference.Forward([token])[0], ort.Run([token], past++));
            (worst, worstAbs) = (Math.Max(worst, rel), Math.Max(worstAbs, abs));
        }

        output.WriteLine($"accuracy level {accuracyLevel}, reference rounds activations: {referenceRoundsActivations}: max relative error {worst:E2}, max abs error {worstAbs:E2}");
        Assert.True(worst < tolerance, $"relative error {worst:E2} over tolerance {tolerance:E0}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public void GreedyOutputsAgreeOverHundredsOfTokens(int accuracyLevel)
    {
        // Each side picks its argmax and feeds its own pick back, 300 times; at level 4 the reference rounds its
        // projection inputs to int8 as the op does (the exact reference would differ at near-ties).
        const int steps = 300;
        using var ort = new OrtDecoder(Folder(accuracyLevel));
        var reference = new ReferenceModel(Path.Combine(Folder(accuracyLevel), "model.onnx"), ort.Config) { Int8ActivationBlock = accuracyLevel == 4 ? 32 : null };
        int[] prompt = [1, 17, 42, 5, 99];
        var expected = reference.Forward(prompt)[^1];
        var logits = ort.Run(prompt, 0).ToArray().AsSpan((prompt.Length - 1) * ort.Config.VocabSize).ToArray();
        var (ours, theirs) = (new List<int>(), new List<int>());
        for (var step = 0; step < steps; step++)
        {
            ours.Add(ArgMax(logits));
            theirs.Add(ArgMax(expected));
            expected = reference.Forward([theirs[^1]])[0];
            logits = ort.Run([ours[^1]], ours.Count + prompt.Length - 1).ToArray();
        }

        Assert.Equal(theirs, ours);
        Assert.True(ours.Distinct().Count() > 20, "the greedy output should not be a short loop");
    }

    private static (double Relative, double Absolute) Error(double[] expected, ReadOnlySpan<float> actual)
    {
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        return (maxDiff / maxRef, maxDiff);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            best = values[i] > values[best] ? i : best;
        }

        return best;
    }

    private static int ArgMax(double[] values) => Array.IndexOf(values, values.Max());

    /// <summary>One sequence through ONNX Runtime with the engine's KV cache and runner.</summary>
    private sealed class OrtDecoder : IDisposable
    {
        private readonly InferenceSession _session;
        private readonly KvCache _cache;
        private readonly DecoderRunner _runner;

        public OrtDecoder(string dir)
        {
            Config = GenAiConfig.Load(Path.Combine(dir, "genai_config.json"));
            using var options = OnnxEnvironment.CreateSessionOptions();
            _session = new InferenceSession(Path.Combine(dir, "model.onnx"), options);
            var d = Config.Decoder;
            _cache = new KvCache(d.NumHiddenLayers, slotCount: 1, d.NumKeyValueHeads, Config.ContextLength, d.HeadSize);
            _runner = new DecoderRunner(_session, Config, _cache, maxTokensPerRun: 64);
        }

        public GenAiConfig Config { get; }

        public ReadOnlySpan<float> Run(int[] tokens, int past) =>
            _runner.Run(0, 1, tokens.Length, tokens.Select(t => (long)t).ToArray(), [past], [tokens.Length]);

        public void Dispose()
        {
            _runner.Dispose();
            _cache.Dispose();
            _session.Dispose();
        }
    }
}
