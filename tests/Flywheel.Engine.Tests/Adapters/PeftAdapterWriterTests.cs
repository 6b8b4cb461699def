using Flywheel.Adapters;
using Flywheel.Models.Import;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>
/// <see cref="PeftAdapterWriter"/> on a base with fused projections (Phi-3): the adapter is written as PEFT writes
/// Phi-3's (qkv_proj and gate_up_proj, A shared, B's rows per part in order), and reads back as the same weights
/// per projection as the split form of the same weights does.
/// </summary>
public sealed class PeftAdapterWriterTests
{
    private const int MaxRank = 8;

    private static AdapterBaseShape Fused => AdapterFolder.Shape with { FusesProjections = true };

    [Fact]
    public void AFusedBaseGetsPeftsFusedModulesAndASplitBaseItsProjections()
    {
        Assert.Equal(["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], Fused.ModulesFor(LoraTargets.All).Select(m => m.Name));
        Assert.Equal(["qkv_proj", "down_proj"], Fused.ModulesFor([LoraTarget.DownProj, LoraTarget.VProj, LoraTarget.QProj, LoraTarget.KProj]).Select(m => m.Name));
        Assert.Equal(LoraTargets.All.Select(LoraTargets.PeftName), AdapterFolder.Shape.ModulesFor(LoraTargets.All).Select(m => m.Name));
    }

    [Fact]
    public void PartOfAFusedModuleIsRefusedNamingTheModuleAndTheMissingPart()
    {
        var e = Assert.Throws<ArgumentException>(() => Fused.ModulesFor([LoraTarget.QProj, LoraTarget.VProj, LoraTarget.UpProj]));
        Assert.Contains("k_proj is missing", e.Message);
        Assert.Contains("qkv_proj", e.Message);
    }

    [Fact]
    public void AFusedAdapterIsWrittenAsPeftWritesPhi3sAndReadsBackAsItsParts()
    {
        var config = AdapterFolder.Config(rank: 2, alpha: 4) with { Modules = Fused.ModulesFor(LoraTargets.All) };
        var weights = PeftAdapterWriter.RandomWeights(Fused, config, seed: 11);
        var fused = AdapterFolder.NewDirectory();
        PeftAdapterWriter.Write(fused, config, weights);

        // Tiny: hidden 64, q 64 rows, k and v 32 each; gate and up 128 each.
        using (var file = SafetensorsFile.Open(Path.Combine(fused, PeftAdapter.WeightsFileName)))
        {
            const string Layer1 = "base_model.model.model.layers.1.";
            Assert.Equal(
                [.. new[] { "mlp.down_proj", "mlp.gate_up_proj", "self_attn.o_proj", "self_attn.qkv_proj" }.SelectMany(m => new[] { $"{Layer1}{m}.lora_A.weight", $"{Layer1}{m}.lora_B.weight" })],
                file.Tensors.Keys.Where(k => k.StartsWith(Layer1, StringComparison.Ordinal)).Order(StringComparer.Ordinal));
            Assert.Equal([2L, 64], file.Tensors[$"{Layer1}self_attn.qkv_proj.lora_A.weight"].Shape);
            Assert.Equal([64L + 32 + 32, 2], file.Tensors[$"{Layer1}self_attn.qkv_proj.lora_B.weight"].Shape);
            Assert.Equal([128L + 128, 2], file.Tensors[$"{Layer1}mlp.gate_up_proj.lora_B.weight"].Shape);
            Assert.Equal(weights[(1, LoraTarget.GateProj)].B.Concat(weights[(1, LoraTarget.UpProj)].B), file.ReadFloats($"{Layer1}mlp.gate_up_proj.lora_B.weight"));
        }

        Assert.Equal(["qkv_proj", "o_proj", "gate_up_proj", "down_proj"], PeftAdapterConfig.Load(Path.Combine(fused, PeftAdapterConfig.FileName), MaxRank).Modules.Select(m => m.Name));

        // The same weights written split (one module per projection) read back the same, projection by projection.
        var split = AdapterFolder.NewDirectory();
        PeftAdapterWriter.Write(split, config with { Modules = AdapterFolder.Shape.ModulesFor(LoraTargets.All) }, weights);
        var (fromFused, fromSplit) = (PeftAdapter.Load(fused, AdapterFolder.Shape, MaxRank), PeftAdapter.Load(split, AdapterFolder.Shape, MaxRank));
        foreach (var (layer, target) in weights.Keys)
        {
            Assert.True(fromFused.TryGetWeights(layer, target, out var f));
            Assert.True(fromSplit.TryGetWeights(layer, target, out var s));
            Assert.Equal(weights[(layer, target)].A, f.A);
            Assert.Equal(weights[(layer, target)].B, f.B);
            Assert.Equal(s.A, f.A);
            Assert.Equal(s.B, f.B);
            Assert.Equal(s.Scale, f.Scale);
        }
    }

    [Fact]
    public void TargetsThatAreNotTheModulesPartsAreRefused()
    {
        // The graph's projections and the file's modules are set apart; an adapter whose two lists disagree would
        // load into slots for one and write tensors for the other.
        var e = Assert.Throws<ArgumentException>(() => new PeftAdapterConfig { Rank = 2, Alpha = 4, Targets = [LoraTarget.QProj], Modules = [LoraModule.GateUpProj] });
        Assert.Contains("gate_up_proj", e.Message);
        var fine = new PeftAdapterConfig { Rank = 2, Alpha = 4, Targets = [LoraTarget.UpProj, LoraTarget.GateProj], Modules = [LoraModule.GateUpProj] };
        Assert.Equal([LoraModule.GateUpProj], fine.Modules);
        Assert.Throws<ArgumentException>(() => fine with { Targets = [LoraTarget.GateProj] });
    }

    [Fact]
    public void FusedPartsWithDifferentAsAreRefused()
    {
        var config = AdapterFolder.Config(rank: 2, alpha: 4, targets: [LoraTarget.GateProj, LoraTarget.UpProj]) with { Modules = [LoraModule.GateUpProj] };
        var split = AdapterFolder.Config(rank: 2, alpha: 4, targets: [LoraTarget.GateProj, LoraTarget.UpProj]);
        var weights = PeftAdapterWriter.RandomWeights(AdapterFolder.Shape, split, seed: 3); // gate and up drawn apart
        var e = Assert.Throws<ArgumentException>(() => PeftAdapterWriter.Write(AdapterFolder.NewDirectory(), config, weights));
        Assert.Contains("gate_up_proj", e.Message);
    }
}
