using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models.Import;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Models.Import;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>
/// <see cref="AdapterBaseShape.FromModelFolder"/> on the folders users serve adapters over: made by make-model
/// (fp32 inline, int4 with the weights in model.onnx.data) and imported from a checkpoint (Qwen3, whose head
/// size is not hidden / heads; Phi-3, whose model.type marks its fused projections). The intermediate size comes
/// from the graph, the rest from genai_config.json.
/// </summary>
public sealed class AdapterBaseShapeTests
{
    // Sizes unlike the tiny preset's, so a value read from the wrong place shows.
    private static readonly ModelBuilderOptions Options = ModelBuilderOptions.Tiny with { LayerCount = 3, HiddenSize = 96, HeadCount = 6, KvHeadCount = 2, IntermediateSize = 160, VocabSize = 300 };

    [Theory]
    [InlineData(ModelPrecision.Fp32, false)]
    [InlineData(ModelPrecision.Int4, true)]
    public void AMadeFolderGivesTheSizesItWasMadeWith(ModelPrecision precision, bool externalData)
    {
        var dir = TestScratch.Path($"shape-{precision}-{externalData}-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, Options with { Precision = precision, ExternalData = externalData, LoraTargets = [LoraTarget.UpProj] }, tokenizerJsonPath: null);
        Assert.Equal(externalData, File.Exists(Path.Combine(dir, ModelFolderWriter.ExternalDataFileName)));

        var o = Options;
        Assert.Equal(new AdapterBaseShape(o.LayerCount, o.HiddenSize, o.HeadCount, o.KvHeadCount, o.HiddenSize / o.HeadCount, o.IntermediateSize), AdapterBaseShape.FromModelFolder(dir));
    }

    [Fact]
    public void AnImportedFolderGivesTheCheckpointsSizes()
    {
        var checkpoint = TinyCheckpoint.Write("Qwen3ForCausalLM", "BF16", sharded: false, tied: false);
        var dir = checkpoint.Dir + "-onnx";
        HfImporter.Import(checkpoint.Dir, dir, loraTargets: [LoraTarget.QProj]);
        Assert.Equal(
            new AdapterBaseShape(TinyCheckpoint.Layers, TinyCheckpoint.Hidden, TinyCheckpoint.Heads, TinyCheckpoint.KvHeads, HeadSize: 32, TinyCheckpoint.Intermediate),
            AdapterBaseShape.FromModelFolder(dir));
    }

    [Fact]
    public void AnImportedPhi3FolderFusesItsProjections()
    {
        var checkpoint = TinyCheckpoint.Write("Phi3ForCausalLM", "BF16", sharded: false, tied: false);
        var dir = checkpoint.Dir + "-onnx";
        HfImporter.Import(checkpoint.Dir, dir, ModelPrecision.Int4, loraTargets: [LoraTarget.VProj]);
        var shape = AdapterBaseShape.FromModelFolder(dir);
        Assert.True(shape.FusesProjections);
        Assert.Equal(new AdapterBaseShape(TinyCheckpoint.Layers, TinyCheckpoint.Hidden, TinyCheckpoint.Heads, TinyCheckpoint.KvHeads, TinyCheckpoint.Hidden / TinyCheckpoint.Heads, TinyCheckpoint.Intermediate) { FusesProjections = true }, shape);
    }

    [Fact]
    public void AGraphWithoutTheGateWeightOrACutOffGraphIsAConfigError()
    {
        var dir = TestScratch.Path($"shape-broken-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, Options, tokenizerJsonPath: null);
        var model = Path.Combine(dir, "model.onnx");
        var bytes = File.ReadAllBytes(model);

        // The gate weight renamed in place (same length, so the file stays well-formed).
        var name = System.Text.Encoding.UTF8.GetBytes(LlamaWeightNames.Gate(0));
        var renamed = bytes.ToArray();
        for (var at = renamed.AsSpan().IndexOf(name); at >= 0; at = renamed.AsSpan().IndexOf(name))
        {
            renamed[at] = (byte)'x';
        }

        File.WriteAllBytes(model, renamed);
        Assert.Contains("intermediate size", Assert.Throws<ModelConfigException>(() => AdapterBaseShape.FromModelFolder(dir)).Message);

        File.WriteAllBytes(model, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        Assert.Contains("not a readable ONNX model", Assert.Throws<ModelConfigException>(() => AdapterBaseShape.FromModelFolder(dir)).Message);
    }
}
