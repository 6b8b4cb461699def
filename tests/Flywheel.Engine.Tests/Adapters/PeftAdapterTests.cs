using System.Text.Json.Nodes;
using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models;
using Flywheel.Models;
using Flywheel.Models.Import;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>Reading PEFT adapter folders: what is read back, and every refusal naming its file and field or key.</summary>
public sealed class PeftAdapterTests
{
    private const int MaxRank = 64;

    [Fact]
    public void TheBaseShapeComesFromTheModelFolder()
    {
        // Tiny: 2 layers, hidden 64, 4 heads of 16, 2 KV heads, intermediate 128 (read from the graph).
        Assert.Equal(new AdapterBaseShape(2, 64, 4, 2, 16, 128), AdapterFolder.Shape);
    }

    [Theory]
    [InlineData("F32")]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void WrittenAdaptersReadBackWithTheirShapesValuesAndScale(string dtype)
    {
        var config = AdapterFolder.Config(rank: 4, alpha: 8);
        var dir = AdapterFolder.NewDirectory();
        var written = PeftAdapterWriter.RandomWeights(AdapterFolder.Shape, config, seed: 3);
        PeftAdapterWriter.Write(dir, config, written, dtype);

        var adapter = PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank);
        Assert.Equal(2 * 7, adapter.ModuleCount);
        Assert.Equal(2.0, adapter.Config.Scale);
        Assert.Equal("tiny", adapter.Config.BaseModelNameOrPath);
        Assert.True(adapter.TryGetWeights(1, LoraTarget.KProj, out var k));
        Assert.Equal((4, 64, 32), (k.Rank, k.InCount, k.OutCount));
        Assert.True(adapter.TryGetWeights(0, LoraTarget.DownProj, out var down));
        Assert.Equal((128, 64), (down.InCount, down.OutCount));
        var tolerance = dtype == "F32" ? 0 : dtype == "F16" ? 1e-3 : 1e-2;
        foreach (var ((layer, target), w) in written)
        {
            Assert.True(adapter.TryGetWeights(layer, target, out var read));
            Assert.Equal(w.A.Length, read.A.Length);
            Assert.Equal(w.B.Length, read.B.Length);
            Assert.All(w.A.Zip(read.A), p => Assert.True(Math.Abs(p.First - p.Second) <= tolerance * Math.Max(1, Math.Abs(p.First)), $"{layer} {target} A"));
            Assert.All(w.B.Zip(read.B), p => Assert.True(Math.Abs(p.First - p.Second) <= tolerance * Math.Max(1, Math.Abs(p.First)), $"{layer} {target} B"));
        }
    }

    [Fact]
    public void RsLoraDividesAlphaByTheRootOfTheRank()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 16, alpha: 8, rsLora: true, LoraTarget.QProj));
        var adapter = PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank);
        Assert.Equal(2.0, adapter.Config.Scale);
        Assert.True(adapter.TryGetWeights(0, LoraTarget.QProj, out var q));
        Assert.Equal(2.0, q.Scale);
        Assert.False(adapter.TryGetWeights(0, LoraTarget.VProj, out _));
    }

    [Theory]
    [InlineData("peft_type", "\"IA3\"")]
    [InlineData("use_dora", "true")]
    [InlineData("bias", "\"lora_only\"")]
    [InlineData("lora_bias", "true")]
    [InlineData("fan_in_fan_out", "true")]
    [InlineData("modules_to_save", "[\"lm_head\"]")]
    [InlineData("rank_pattern", "{\"q_proj\": 8}")]
    [InlineData("alpha_pattern", "{\"q_proj\": 8}")]
    [InlineData("layer_replication", "[[0, 1]]")]
    [InlineData("target_modules", "[\"q_proj\", \"lm_head\"]")]
    [InlineData("target_modules", "\"all-linear\"")]
    [InlineData("target_modules", "[\"qkv_proj\", \"v_proj\"]")]
    [InlineData("r", "0")]
    [InlineData("r", "65")]
    [InlineData("lora_alpha", "null")]
    [InlineData("r", "null")]
    [InlineData("use_rslora", "\"yes\"")]
    [InlineData("layers_to_transform", "[2]")]
    public void UnsupportedConfigFieldsAreRefusedByName(string field, string json)
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config());
        var path = Path.Combine(dir, PeftAdapterConfig.FileName);
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        root[field] = JsonNode.Parse(json);
        File.WriteAllText(path, root.ToJsonString());

        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(path, e.Message);
        Assert.Contains($"'{field}'", e.Message);
    }

    [Fact]
    public void TheMinimalConfigTakesPeftsDefaultRankAndAlpha()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config(rank: 8, alpha: 8, targets: LoraTarget.QProj));
        File.WriteAllText(Path.Combine(dir, PeftAdapterConfig.FileName), "{\"peft_type\": \"LORA\", \"target_modules\": [\"q_proj\"]}");
        var adapter = PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank);
        Assert.Equal((8, 8.0, 1.0), (adapter.Config.Rank, adapter.Config.Alpha, adapter.Config.Scale));
    }

    [Fact]
    public void LayersToTransformLimitsTheAdaptedLayers()
    {
        var config = AdapterFolder.Config(targets: LoraTarget.VProj) with { Layers = [1] };
        var adapter = PeftAdapter.Load(AdapterFolder.Write(config), AdapterFolder.Shape, MaxRank);
        Assert.False(adapter.TryGetWeights(0, LoraTarget.VProj, out _));
        Assert.True(adapter.TryGetWeights(1, LoraTarget.VProj, out _));
    }

    [Fact]
    public void AMissingHalfIsNamed()
    {
        var dir = Rewrite(AdapterFolder.Config(targets: LoraTarget.QProj), tensors => tensors.Where(t => !t.Name.EndsWith("layers.1.self_attn.q_proj.lora_B.weight", StringComparison.Ordinal)));
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(PeftAdapter.WeightsFileName, e.Message);
        Assert.Contains("'base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight'", e.Message);
    }

    [Theory]
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.lora_B.bias", 4)]
    [InlineData("base_model.model.lm_head.lora_A.weight", 4)]
    [InlineData("base_model.model.model.layers.2.self_attn.q_proj.lora_A.weight", 4)]
    [InlineData("base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", 4)]
    [InlineData("base_model.model.model.layers.0.mlp.q_proj.lora_A.weight", 4)]
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight", 4)]
    public void KeysOutsideTheConfigAreRefusedByName(string key, int rank)
    {
        var dir = Rewrite(AdapterFolder.Config(rank: rank, targets: LoraTarget.QProj), tensors => tensors.Append(new SafetensorsWriter.Tensor(key, "F32", [rank, 64], new float[rank * 64])));
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(PeftAdapter.WeightsFileName, e.Message);
        Assert.Contains($"'{key}'", e.Message);
    }

    [Theory]
    [InlineData("lora_A", new long[] { 4, 63 })]
    [InlineData("lora_A", new long[] { 64, 4 })]
    [InlineData("lora_B", new long[] { 4, 64 })]
    [InlineData("lora_B", new long[] { 32, 4 })]
    [InlineData("lora_B", new long[] { 64, 4, 1 })]
    public void AShapeThatDoesNotFitTheBaseIsNamed(string half, long[] shape)
    {
        var key = $"base_model.model.model.layers.0.self_attn.q_proj.{half}.weight";
        var count = (int)shape.Aggregate(1L, (a, d) => a * d);
        var dir = Rewrite(AdapterFolder.Config(rank: 4, targets: LoraTarget.QProj), tensors => tensors.Select(t => t.Name == key ? t with { Shape = shape, Values = new float[count] } : t));
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains($"[{string.Join(", ", shape)}]", e.Message);
    }

    [Fact]
    public void AnAdapterForALargerBaseIsRefused()
    {
        var wider = AdapterFolder.Shape with { HiddenSize = 128, HeadSize = 32 };
        var config = AdapterFolder.Config(targets: LoraTarget.OProj);
        var dir = AdapterFolder.NewDirectory();
        PeftAdapterWriter.Write(dir, config, PeftAdapterWriter.RandomWeights(wider, config, seed: 1));
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains("o_proj.lora_A.weight", e.Message);
    }

    [Fact]
    public void AMissingWeightsFileIsNamed()
    {
        var dir = AdapterFolder.Write(AdapterFolder.Config());
        File.Delete(Path.Combine(dir, PeftAdapter.WeightsFileName));
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains(PeftAdapter.WeightsFileName, e.Message);
    }

    [Fact]
    public void AKeyWithAnAdapterNameIsRefusedPointingToSavePretrained()
    {
        var dir = Rewrite(AdapterFolder.Config(targets: LoraTarget.QProj), tensors => tensors.Select(t => t with { Name = t.Name.Replace(".weight", ".default.weight", StringComparison.Ordinal) }));
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank));
        Assert.Contains("'base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight'", e.Message);
        Assert.Contains("save_pretrained", e.Message);
    }

    [Fact]
    public void Phi3sFusedModulesReadAsTheirPartsWithASharedAAndTheRowsOfB()
    {
        // Tiny: q 64 rows, k and v 32 each; gate and up 128 each.
        var dir = WriteFused(qkvRows: 128);
        var adapter = PeftAdapter.Load(dir, AdapterFolder.Shape, MaxRank);
        Assert.Equal([LoraTarget.QProj, LoraTarget.KProj, LoraTarget.VProj, LoraTarget.GateProj, LoraTarget.UpProj], adapter.Config.Targets);
        using var file = SafetensorsFile.Open(Path.Combine(dir, PeftAdapter.WeightsFileName));
        foreach (var (module, parts) in new[] { ("self_attn.qkv_proj", new[] { (LoraTarget.QProj, 64), (LoraTarget.KProj, 32), (LoraTarget.VProj, 32) }), ("mlp.gate_up_proj", [(LoraTarget.GateProj, 128), (LoraTarget.UpProj, 128)]) })
        {
            var a = file.ReadFloats($"base_model.model.model.layers.1.{module}.lora_A.weight");
            var b = file.ReadFloats($"base_model.model.model.layers.1.{module}.lora_B.weight");
            var row = 0;
            foreach (var (target, rows) in parts)
            {
                Assert.True(adapter.TryGetWeights(1, target, out var w));
                Assert.Equal((2, 64, rows), (w.Rank, w.InCount, w.OutCount));
                Assert.Equal(a, w.A);
                Assert.Equal(b.AsSpan(row * 2, rows * 2).ToArray(), w.B);
                row += rows;
            }
        }
    }

    [Fact]
    public void AFusedLoraBOfTheWrongHeightNamesItsParts()
    {
        var e = Assert.Throws<ModelConfigException>(() => PeftAdapter.Load(WriteFused(qkvRows: 96), AdapterFolder.Shape, MaxRank));
        Assert.Contains("'base_model.model.model.layers.0.self_attn.qkv_proj.lora_B.weight' has shape [96, 2]", e.Message);
        Assert.Contains("[64 + 32 + 32, r]", e.Message);
    }

    /// <summary>A rank-2 adapter on Phi-3's fused qkv_proj (lora_B <paramref name="qkvRows"/> high) and gate_up_proj.</summary>
    private static string WriteFused(int qkvRows)
    {
        var dir = AdapterFolder.NewDirectory();
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, PeftAdapterConfig.FileName), "{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4, \"target_modules\": [\"gate_up_proj\", \"qkv_proj\"]}");
        var random = new Random(7);
        SafetensorsWriter.Tensor Random(string key, long rows, long columns) =>
            new(key, "F32", [rows, columns], Enumerable.Range(0, (int)(rows * columns)).Select(_ => (float)random.NextDouble()).ToArray());
        var tensors = new List<SafetensorsWriter.Tensor>();
        for (var layer = 0; layer < 2; layer++)
        {
            var p = $"base_model.model.model.layers.{layer}";
            tensors.AddRange([Random($"{p}.self_attn.qkv_proj.lora_A.weight", 2, 64), Random($"{p}.self_attn.qkv_proj.lora_B.weight", qkvRows, 2)]);
            tensors.AddRange([Random($"{p}.mlp.gate_up_proj.lora_A.weight", 2, 64), Random($"{p}.mlp.gate_up_proj.lora_B.weight", 256, 2)]);
        }

        SafetensorsWriter.Write(Path.Combine(dir, PeftAdapter.WeightsFileName), tensors);
        return dir;
    }

    /// <summary>A written adapter whose tensors are passed through <paramref name="edit"/> (all stored F32).</summary>
    private static string Rewrite(PeftAdapterConfig config, Func<IEnumerable<SafetensorsWriter.Tensor>, IEnumerable<SafetensorsWriter.Tensor>> edit)
    {
        var dir = AdapterFolder.Write(config);
        var path = Path.Combine(dir, PeftAdapter.WeightsFileName);
        List<SafetensorsWriter.Tensor> tensors;
        using (var file = SafetensorsFile.Open(path))
        {
            tensors = file.Tensors.Select(p => new SafetensorsWriter.Tensor(p.Key, p.Value.DType, p.Value.Shape, file.ReadFloats(p.Key))).ToList();
        }

        SafetensorsWriter.Write(path, edit(tensors).ToList());
        return dir;
    }
}
