using Flywheel.Models.Building;
using Flywheel.Onnx.Proto;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Models;

/// <summary>
/// Weights written as ONNX external data (model.onnx.data beside model.onnx, as ORT GenAI writes them): the
/// graphs hold only references, model.onnx and model.mixed.onnx share one copy of the bytes, ONNX Runtime loads
/// the folder and computes exactly the logits of the same model written inline, and reading the model back
/// resolves the references to the same bytes.
/// </summary>
public sealed class ExternalDataTests
{
    private static string Write(string name, ModelPrecision precision, bool external)
    {
        var dir = TestScratch.Path($"{name}-{precision}-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { Precision = precision, ExternalData = external }, tokenizerJsonPath: null, SyntheticTokenizer.Write);
        return dir;
    }

    [Theory]
    [InlineData(ModelPrecision.Fp32)]
    [InlineData(ModelPrecision.Int4)]
    [InlineData(ModelPrecision.Fp16)]
    public void AnExternalDataFolderGivesTheLogitsOfTheInlineOne(ModelPrecision precision)
    {
        var inline = Write("inline", precision, external: false);
        var external = Write("external", precision, external: true);
        Assert.False(File.Exists(Path.Combine(inline, ModelFolderWriter.ExternalDataFileName)));
        var data = new FileInfo(Path.Combine(external, ModelFolderWriter.ExternalDataFileName));
        Assert.True(data.Length > new FileInfo(Path.Combine(inline, "model.onnx")).Length * 0.9, "the weights are in the data file");
        Assert.True(new FileInfo(Path.Combine(external, "model.onnx")).Length < 64 * 1024, "model.onnx holds the graph only");

        // Both graphs refer to the same bytes; nothing is written twice.
        var main = OnnxModel.FromBytes(File.ReadAllBytes(Path.Combine(external, "model.onnx"))).Graph;
        var mixed = OnnxModel.FromBytes(File.ReadAllBytes(Path.Combine(external, LlamaModelBuilder.MixedFileName))).Graph;
        var weights = main.Initializers.Where(t => t.ExternalData is not null).ToList();
        Assert.Contains(weights, t => t.Name == LlamaWeightNames.Embedding);
        Assert.All(main.Initializers.Where(t => t.ExternalData is null), t => Assert.StartsWith("const_", t.Name));
        Assert.All(weights, t => Assert.Equal(t.ExternalData, mixed.Initializers.Single(m => m.Name == t.Name).ExternalData));
        Assert.True(data.Length < weights.Sum(t => t.ExternalData!.Length + 4096), "each tensor is written once");

        // Loading resolves the references to the inline model's bytes.
        var resolved = OnnxModel.Load(Path.Combine(external, "model.onnx")).Graph.Initializers.ToDictionary(t => t.Name);
        foreach (var t in OnnxModel.Load(Path.Combine(inline, "model.onnx")).Graph.Initializers)
        {
            Assert.Equal(t.RawData, resolved[t.Name].RawData);
        }

        using var a = new Fp16IoTests.Decoder(inline);
        using var b = new Fp16IoTests.Decoder(external);
        long[] prompt = [1, 17, 42, 5, 99, 23, 8];
        Assert.Equal(a.Runner.Run(0, 1, prompt.Length, prompt, [0], [prompt.Length]).ToArray(), b.Runner.Run(0, 1, prompt.Length, prompt, [0], [prompt.Length]).ToArray());
        for (var step = 0; step < 5; step++)
        {
            long[] token = [(step * 31) + 3];
            Assert.Equal(a.Runner.Run(0, 1, 1, token, [prompt.Length + step], [1]).ToArray(), b.Runner.Run(0, 1, 1, token, [prompt.Length + step], [1]).ToArray());
        }
    }

    [Fact]
    public void OnlyLargeModelsGoToExternalDataByDefault()
    {
        Assert.False(ModelBuilderOptions.Tiny.WritesExternalData);
        Assert.True(ModelBuilderOptions.Small with { Precision = ModelPrecision.Int4 } is { WritesExternalData: true, WeightBytes: > 600_000_000 and < 900_000_000 });
        Assert.False(ModelBuilderOptions.Small with { ExternalData = false } is { WritesExternalData: true });
    }

    [Fact]
    public void TheMediumPresetIsLlama32OneBsShapeInSixGigabytes()
    {
        var medium = ModelBuilderOptions.Preset("medium");
        medium.Validate();
        Assert.True(medium is { LayerCount: 16, HiddenSize: 2048, HeadSize: 64, KvHeadCount: 8, IntermediateSize: 8192, VocabSize: 128256 });
        Assert.True(medium is { WritesExternalData: true, WeightBytes: > 5_900_000_000 and < 6_100_000_000 });
        Assert.Throws<ArgumentException>(() => ModelBuilderOptions.Preset("large"));
    }
}
