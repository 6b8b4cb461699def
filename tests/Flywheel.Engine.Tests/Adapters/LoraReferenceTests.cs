using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models;
using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Models;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>
/// The double-precision reference with a LoRA adapter: a zero B is a no-op, a random one changes the logits,
/// and the unmerged forward (x W + scale (x A^T) B^T) equals the forward over merged weights
/// W + scale (B A)^T. The merged route is what engine logits with adapters will be checked against.
/// </summary>
public sealed class LoraReferenceTests
{
    private static readonly int[] Prompt = [5, 17, 42, 7, 250, 3, 11, 99];

    private static readonly GenAiConfig Config = GenAiConfig.Load(Path.Combine(TinyModel.Dir, "genai_config.json"));

    private static Dictionary<string, double[]> BaseWeights() => ReferenceModel.ReadWeights(Path.Combine(TinyModel.Dir, "model.onnx"));

    private static double[][] Logits(Dictionary<string, double[]> weights, PeftAdapter? adapter = null) =>
        new ReferenceModel(weights, Config) { Adapter = adapter }.Forward(Prompt);

    private static PeftAdapter Load(string dir) => PeftAdapter.Load(dir, AdapterFolder.Shape, maxRank: 64);

    /// <summary>max |a - b| / max |a| over every position.</summary>
    private static double RelativeDifference(double[][] a, double[][] b)
    {
        double maxDiff = 0, maxRef = 0;
        for (var t = 0; t < a.Length; t++)
        {
            for (var i = 0; i < a[t].Length; i++)
            {
                maxDiff = Math.Max(maxDiff, Math.Abs(a[t][i] - b[t][i]));
                maxRef = Math.Max(maxRef, Math.Abs(a[t][i]));
            }
        }

        return maxDiff / maxRef;
    }

    [Fact]
    public void AnAdapterWithZeroBLeavesTheLogitsUnchanged()
    {
        var weights = BaseWeights();
        var adapter = Load(AdapterFolder.Write(AdapterFolder.Config(), seed: 2, bScale: 0));
        Assert.Equal(0, RelativeDifference(Logits(weights), Logits(weights, adapter)));
    }

    [Theory]
    [InlineData(LoraTarget.QProj)]
    [InlineData(LoraTarget.KProj)]
    [InlineData(LoraTarget.VProj)]
    [InlineData(LoraTarget.OProj)]
    [InlineData(LoraTarget.GateProj)]
    [InlineData(LoraTarget.UpProj)]
    [InlineData(LoraTarget.DownProj)]
    public void ARandomAdapterOnAnyOneTargetChangesTheLogits(LoraTarget target)
    {
        var weights = BaseWeights();
        var adapter = Load(AdapterFolder.Write(AdapterFolder.Config(targets: target), seed: 4));
        var difference = RelativeDifference(Logits(weights), Logits(weights, adapter));
        Assert.True(difference > 1e-3, $"{target}: relative change {difference:E2}");
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(8, true)]
    public void MergedWeightsGiveTheUnmergedLogits(int rank, bool rsLora)
    {
        var weights = BaseWeights();
        var adapter = Load(AdapterFolder.Write(AdapterFolder.Config(rank: rank, alpha: 16, rsLora: rsLora), seed: 5));
        var unmerged = Logits(weights, adapter);
        var merged = Logits(ReferenceModel.MergedWeights(weights, adapter, Config.Decoder.NumHiddenLayers));
        Assert.True(RelativeDifference(Logits(weights), unmerged) > 1e-2, "the adapter must matter for this check to mean anything");
        var difference = RelativeDifference(unmerged, merged);
        Assert.True(difference < 1e-10, $"merged vs unmerged: relative error {difference:E2}");
    }
}
