using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx.Proto;
using Flywheel.Tokenization;
using Xunit.Abstractions;
using ElementType = Flywheel.Onnx.TensorElementType;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// <c>make-model --precision fp16</c>: every weight, the KV cache and the logits are float16 (ORT GenAI's CUDA
/// fp16 layout), with no casts in the graph. ONNX Runtime's CPU provider runs it: GroupQueryAttention and Gather
/// have float16 CPU kernels; MatMul, SimplifiedLayerNormalization, Sigmoid, Mul and Add do not on x64, so ORT's
/// cast-insertion pass runs them in float32 between casts and rounds each of their outputs back to float16.
/// The logits are compared with the double-precision reference over the same (float16-rounded) weights.
/// </summary>
public sealed class Fp16PrecisionTests(ITestOutputHelper output)
{
    private static readonly Lazy<string> Dir = new(() =>
    {
        var dir = TestScratch.Path($"fp16-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { Precision = ModelPrecision.Fp16 }, tokenizerJsonPath: null, SyntheticTokenizer.Write);
        return dir;
    });

    /// <summary>
    /// Worst |ort - ref| relative to the row's largest |logit|. Each op output the CPU provider rounds to float16
    /// moves it by at most 2^-11 (4.9e-4) of itself; the residual stream is rounded after each of the 4 residual
    /// Adds and every projection's output is rounded, so errors of a few half-ulps reach the final norm, and the
    /// logits are rounded once more. Measured over 11 positions: 6.6e-4 (see the test output). 2e-3 is four
    /// half-ulps: the logit's own rounding plus the hidden state's, with room; a real defect (a wrong weight, a
    /// wrong rotary table) moves logits by a large fraction of their range.
    /// </summary>
    private const double Tolerance = 2e-3;

    [Fact]
    public void EveryWeightTheCacheAndTheLogitsAreFloat16WithoutCasts()
    {
        var graph = OnnxModel.Load(Path.Combine(Dir.Value, "model.onnx")).Graph;
        Assert.All(graph.Initializers.Where(t => t.DataType != ElementType.Int64), t => Assert.Equal(ElementType.Float16, t.DataType));
        Assert.Contains(graph.Initializers, t => t.Name == LlamaWeightNames.LmHead);
        Assert.All(graph.Inputs.Where(i => i.Name.StartsWith("past_key_values.", StringComparison.Ordinal)), i => Assert.Equal(ElementType.Float16, i.DataType));
        Assert.All(graph.Outputs, o => Assert.Equal(ElementType.Float16, o.DataType));

        // The only casts are the attention mask's int64 -> int32 lengths.
        Assert.All(graph.Nodes.Where(n => n.OpType == "Cast"), n => Assert.Equal((long)ElementType.Int32, n.Attributes.Single().IntValue));
        Assert.Equal(2 * 7 + 1, graph.Nodes.Count(n => n.OpType == "MatMul"));

        using var folder = ModelFolder.Open(Dir.Value);
        Assert.Equal(OrtElementType.Float16, folder.KvElementType);
        Assert.Equal(OrtElementType.Float16, folder.LogitsElementType);
    }

    [Fact]
    public void PromptAndDecodeLogitsMatchTheReferenceWithinFloat16Rounding()
    {
        using var ort = new Fp16IoTests.Decoder(Dir.Value);
        var config = GenAiConfig.Load(Path.Combine(Dir.Value, "genai_config.json"));
        var reference = new ReferenceModel(Path.Combine(Dir.Value, "model.onnx"), config);
        int[] prompt = [5, 17, 42, 7, 250, 3];
        var expected = reference.Forward(prompt);
        var logits = ort.Runner.Run(0, 1, prompt.Length, prompt.Select(t => (long)t).ToArray(), [0], [prompt.Length]).ToArray();
        var worst = 0.0;
        for (var t = 0; t < prompt.Length; t++)
        {
            worst = Math.Max(worst, Error(expected[t], logits.AsSpan(t * ort.Vocab, ort.Vocab)));
        }

        var past = prompt.Length;
        foreach (var token in new[] { 11, 99, 123, 8, 64 })
        {
            worst = Math.Max(worst, Error(reference.Forward([token])[0], ort.Runner.Run(0, 1, 1, [token], [past], [1])));
            past++;
        }

        output.WriteLine($"fp16 vs reference: max relative error {worst:E2}");
        Assert.True(worst > 0, "float16 rounding should show");
        Assert.True(worst < Tolerance, $"relative error {worst:E2} over tolerance {Tolerance:E0}");
    }

    [Fact]
    public void GreedyOutputsAgreeWithTheReferenceUntilANearTie()
    {
        // Each side feeds back its own pick. Where the reference's best two logits are closer than twice the
        // tolerance, float16 may rightly pick the other one, so a prompt's comparison stops there.
        int[][] prompts = [[1, 17, 42, 5, 99], [3, 1, 4, 1, 5, 9, 2, 6], [250, 7], [400, 300, 200, 100]];
        var compared = prompts.Select(GreedyStepsBeforeANearTie).ToArray();
        output.WriteLine($"greedy steps compared per prompt before a near-tie: {string.Join(", ", compared)}");
        Assert.True(compared.Sum() >= 100, $"only {compared.Sum()} greedy steps compared");
    }

    private static int GreedyStepsBeforeANearTie(int[] prompt)
    {
        const int steps = 150;
        using var ort = new Fp16IoTests.Decoder(Dir.Value);
        var config = GenAiConfig.Load(Path.Combine(Dir.Value, "genai_config.json"));
        var reference = new ReferenceModel(Path.Combine(Dir.Value, "model.onnx"), config);
        var expected = reference.Forward(prompt)[^1];
        var logits = ort.Runner.Run(0, 1, prompt.Length, prompt.Select(t => (long)t).ToArray(), [0], [prompt.Length]).ToArray()[^ort.Vocab..];
        for (var step = 0; step < steps; step++)
        {
            var best = Array.IndexOf(expected, expected.Max());
            var second = expected.Where((_, i) => i != best).Max();
            if (expected[best] - second <= 2 * Tolerance * expected.Max(Math.Abs))
            {
                return step;
            }

            Assert.Equal(best, Flywheel.Sampling.TokenSampler.Argmax(logits));
            expected = reference.Forward([best])[0];
            logits = ort.Runner.Run(0, 1, 1, [best], [prompt.Length + step], [1]).ToArray();
        }

        return steps;
    }

    private static double Error(double[] expected, ReadOnlySpan<float> actual)
    {
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        return maxDiff / maxRef;
    }
}
