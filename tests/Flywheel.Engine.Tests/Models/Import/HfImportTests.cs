using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Models.Import;
using Flywheel.Onnx;
using Flywheel.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Tokenizer = Flywheel.Tokenization.Tokenizer;

namespace Flywheel.Engine.Tests.Models.Import;

/// <summary>
/// <c>flywheel import</c> on tiny random checkpoints: ONNX Runtime's logits on the imported folder match the
/// double-precision reference run on the checkpoint's own weights (mapped in the test, not by the importer),
/// with the config's rope_theta and rms_norm_eps; ORT GenAI loads the folder and picks Flywheel's greedy ids;
/// what the importer does not implement is refused by name.
/// </summary>
public sealed class HfImportTests
{
    private const double Tolerance = 1e-4;

    [Theory]
    [InlineData("LlamaForCausalLM", "F32", false, false)]
    [InlineData("LlamaForCausalLM", "BF16", true, true)]
    [InlineData("MistralForCausalLM", "F16", false, false)]
    [InlineData("Qwen2ForCausalLM", "BF16", true, true)]
    [InlineData("Qwen3ForCausalLM", "BF16", false, true)]
    [InlineData("Phi3ForCausalLM", "BF16", true, false)]
    public void ImportedLogitsMatchTheReferenceOnTheCheckpointsWeights(string architecture, string dtype, bool sharded, bool tied)
    {
        var checkpoint = TinyCheckpoint.Write(architecture, dtype, sharded, tied);
        var output = checkpoint.Dir + "-onnx";
        HfImporter.Import(checkpoint.Dir, output);

        var config = GenAiConfig.Load(Path.Combine(output, "genai_config.json"));
        Assert.Equal([2, 3], config.EosTokenIds);
        Assert.Equal(TinyCheckpoint.Context, config.ContextLength);
        var reference = new ReferenceModel(checkpoint.ReferenceWeights, config, TinyCheckpoint.Epsilon);
        using var options = OnnxEnvironment.CreateSessionOptions();
        using var session = new InferenceSession(Path.Combine(output, "model.onnx"), options);
        var d = config.Decoder;
        using var cache = new KvCache(d.NumHiddenLayers, 1, d.NumKeyValueHeads, config.ContextLength, d.HeadSize);
        using var runner = new DecoderRunner(session, config, cache, maxTokensPerRun: 64);
        int[] prompt = [1, 40, 7, 300, 12, 99, 5];
        var expected = reference.Forward(prompt);
        var logits = runner.Run(0, 1, prompt.Length, prompt.Select(t => (long)t).ToArray(), [0], [prompt.Length]).ToArray();
        for (var t = 0; t < prompt.Length; t++)
        {
            AssertClose(expected[t], logits.AsSpan(t * TinyCheckpoint.Vocab, TinyCheckpoint.Vocab), $"position {t}");
        }

        var past = prompt.Length;
        foreach (var token in new[] { 17, 250, 3 })
        {
            AssertClose(reference.Forward([token])[0], runner.Run(0, 1, 1, [token], [past++], [1]), $"decode at {past}");
        }
    }

    public static TheoryData<string, Dictionary<string, object>> RopeScalings => new()
    {
        // Llama 3.1's settings with the original context shrunk to the tiny model's: wavelengths of its 8 rotary
        // frequencies run from 6 to 10^5 positions, so L = 64 puts one below L / 4 (kept), one between (blended)
        // and six above L / 1 (divided by 8).
        { "llama3", new() { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 64 } },
        { "linear", new() { ["type"] = "linear", ["rope_type"] = "linear", ["factor"] = 4.0 } },
    };

    [Theory]
    [MemberData(nameof(RopeScalings))]
    public void RopeScalingIsAppliedToTheRotaryTables(string type, Dictionary<string, object> scaling)
    {
        var checkpoint = TinyCheckpoint.Write("LlamaForCausalLM", "F32", sharded: false, tied: false, ropeScaling: scaling);
        var output = checkpoint.Dir + "-onnx";
        HfImporter.Import(checkpoint.Dir, output);
        var config = GenAiConfig.Load(Path.Combine(output, "genai_config.json"));
        var reference = new ReferenceModel(checkpoint.ReferenceWeights, config, TinyCheckpoint.Epsilon);
        using var options = OnnxEnvironment.CreateSessionOptions();
        using var session = new InferenceSession(Path.Combine(output, "model.onnx"), options);
        var d = config.Decoder;
        using var cache = new KvCache(d.NumHiddenLayers, 1, d.NumKeyValueHeads, config.ContextLength, d.HeadSize);
        using var runner = new DecoderRunner(session, config, cache, maxTokensPerRun: 200);

        // Long enough that rotation angles differ a lot between scaled and unscaled frequencies.
        var prompt = Enumerable.Range(0, 150).Select(i => (i * 37 % 300) + 4).ToArray();
        var expected = reference.Forward(prompt);
        var logits = runner.Run(0, 1, prompt.Length, prompt.Select(t => (long)t).ToArray(), [0], [prompt.Length]).ToArray();
        foreach (var t in new[] { 1, 60, 149 })
        {
            AssertClose(expected[t], logits.AsSpan(t * TinyCheckpoint.Vocab, TinyCheckpoint.Vocab), $"{type}, position {t}");
        }
    }

    [Theory]
    [InlineData("LlamaForCausalLM")]
    [InlineData("Qwen2ForCausalLM")]
    public void AnFp16ImportMatchesTheReferenceWithinFloat16Rounding(string architecture)
    {
        // BF16 weights fit float16 exactly (8 mantissa bits in 11), so only the float16 arithmetic differs: the
        // tolerance of Fp16PrecisionTests (four half-ulps of the row's largest logit).
        var checkpoint = TinyCheckpoint.Write(architecture, "BF16", sharded: false, tied: false);
        var output = checkpoint.Dir + "-fp16";
        HfImporter.Import(checkpoint.Dir, output, ModelPrecision.Fp16);
        var config = GenAiConfig.Load(Path.Combine(output, "genai_config.json"));
        var reference = new ReferenceModel(checkpoint.ReferenceWeights, config, TinyCheckpoint.Epsilon);
        using var ort = new Fp16IoTests.Decoder(output);
        Assert.Equal(Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float16, ort.KvElementType);
        int[] prompt = [1, 40, 7, 300, 12, 99, 5];
        var expected = reference.Forward(prompt);
        var logits = ort.Runner.Run(0, 1, prompt.Length, prompt.Select(t => (long)t).ToArray(), [0], [prompt.Length]).ToArray();
        for (var t = 0; t < prompt.Length; t++)
        {
            AssertClose(expected[t], logits.AsSpan(t * TinyCheckpoint.Vocab, TinyCheckpoint.Vocab), $"position {t}", 2e-3);
        }

        var past = prompt.Length;
        foreach (var token in new[] { 17, 250, 3 })
        {
            AssertClose(reference.Forward([token])[0], ort.Runner.Run(0, 1, 1, [token], [past++], [1]), $"decode at {past}", 2e-3);
        }
    }

    [Theory]
    [InlineData("Qwen2ForCausalLM")]
    [InlineData("Qwen3ForCausalLM")]
    [InlineData("Phi3ForCausalLM")]
    public void OrtGenAiLoadsAnImportedInt4FolderAndPicksFlywheelsGreedyIds(string architecture)
    {
        _ = OnnxEnvironment.Instance;
        var checkpoint = TinyCheckpoint.Write(architecture, "BF16", sharded: false, tied: false);
        var output = checkpoint.Dir + "-int4";
        HfImporter.Import(checkpoint.Dir, output, ModelPrecision.Int4);
        Assert.Contains("MatMulNBits", File.ReadAllText(Path.Combine(output, "model.onnx"), System.Text.Encoding.Latin1));
        int[] prompt = [1, 17, 42, 5, 99, 23, 8];
        using var folder = ModelFolder.Open(output);
        using var generator = new TextGenerator(folder, Tokenizer.Load(folder.TokenizerPath));
        var ours = generator.Generate(prompt, new GenerateParams { MaxTokens = 12, IgnoreEos = true }).TokenIds;
        var theirs = OrtGenAiAgreementTests.OrtGenAiGreedy(output, prompt, 12);
        Assert.NotEmpty(theirs);
        Assert.Equal(theirs, ours.Take(theirs.Length));
    }

    [Theory]
    [InlineData("architectures", "GemmaForCausalLM", "architecture GemmaForCausalLM is not supported")]
    [InlineData("rope_scaling", "yarn", "rope_scaling type 'yarn'")]
    [InlineData("rope_scaling", "llama3", "rope_scaling type 'llama3' needs a number low_freq_factor")]
    [InlineData("hidden_act", "gelu", "hidden_act 'gelu'")]
    [InlineData("partial_rotary_factor", "0.5", "partial_rotary_factor 0.5")]
    [InlineData("sliding_window", "4", "sliding_window attention (4)")]
    public void UnsupportedArchitecturesAndSettingsAreRefusedByName(string field, string value, string message)
    {
        var architecture = field switch { "sliding_window" => "MistralForCausalLM", "partial_rotary_factor" => "Phi3ForCausalLM", _ => "LlamaForCausalLM" };
        var checkpoint = TinyCheckpoint.Write(architecture, "F32", false, false, c =>
            c[field] = field switch
            {
                "architectures" => new[] { value },
                "rope_scaling" => new Dictionary<string, object> { ["rope_type"] = value, ["factor"] = 8.0 },
                "sliding_window" => int.Parse(value, System.Globalization.CultureInfo.InvariantCulture),
                "partial_rotary_factor" => double.Parse(value, System.Globalization.CultureInfo.InvariantCulture),
                _ => value,
            });
        var e = Assert.Throws<ModelConfigException>(() => HfImporter.Import(checkpoint.Dir, checkpoint.Dir + "-onnx"));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void TensorsTheImporterWouldIgnoreAreRefusedByName()
    {
        // A Llama checkpoint with attention biases it does not declare: importing without them would be wrong.
        var checkpoint = TinyCheckpoint.Write("Qwen2ForCausalLM", "F32", false, false, c => c["architectures"] = new[] { "LlamaForCausalLM" });
        var e = Assert.Throws<ModelConfigException>(() => HfImporter.Import(checkpoint.Dir, checkpoint.Dir + "-onnx"));
        Assert.Contains("tensors not supported by the importer: model.layers.0.self_attn.k_proj.bias", e.Message);
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, string what, double tolerance = Tolerance)
    {
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        Assert.True(maxDiff / maxRef < tolerance, $"{what}: relative error {maxDiff / maxRef:E2} (max |ref| {maxRef:F3})");
    }
}
