using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Adapters;
using Flywheel.Models.Import;
using Flywheel.Tokenization;
using static Flywheel.Cli.Tests.CliRunner;

namespace Flywheel.Cli.Tests;

/// <summary>
/// <c>flywheel import --lora</c>: a Phi-3 checkpoint imported with LoRA inputs on its fused modules' parts takes an
/// adapter made for the folder, written as PEFT writes Phi-3's (qkv_proj, not its parts); fp16 with --lora is a usage error naming both flags. The numbers are checked in
/// the engine's HfImportLoraTests; this is the command line.
/// </summary>
public sealed class ImportLoraCommandTests
{
    private const int Hidden = 32, Heads = 2, KvHeads = 1, Intermediate = 64, Vocab = 300, Layers = 1;

    private static string NewDirectory(string what) => TestScratch.Path($"cli-import-{what}-{Environment.ProcessId}-{Guid.NewGuid():N}");

    [Fact]
    public void APhi3ImportWithFusedLoraNamesTakesAnAdapterForItsParts()
    {
        var checkpoint = WritePhi3Checkpoint();
        var output = NewDirectory("onnx");
        var (code, stdout, err) = Run("import", "--from", checkpoint, "--out", output, "--lora", "qkv_proj,o_proj");
        Assert.True(code == 0, err);
        Assert.Contains("from Phi3ForCausalLM", stdout);
        Assert.Contains("LoRA inputs on q_proj,k_proj,v_proj,o_proj", stdout);
        var inputs = Flywheel.Onnx.Proto.OnnxModel.Load(Path.Combine(output, "model.onnx")).Graph.Inputs.Select(i => i.Name).ToHashSet();
        Assert.Contains(LoraGraphNames.SlotIds, inputs);
        Assert.Equal([LoraTarget.QProj, LoraTarget.KProj, LoraTarget.VProj, LoraTarget.OProj], LoraTargets.All.Where(t => inputs.Contains(LoraGraphNames.A(0, t))));

        // The adapter make-adapter writes for it is in PEFT's form for Phi-3: the fused module, A shared, B's rows q, k, v.
        var adapter = NewDirectory("adapter");
        (code, _, err) = Run("make-adapter", "--model", output, "--out", adapter, "--rank", "2", "--targets", "qkv_proj,o_proj", "--seed", "5");
        Assert.True(code == 0, err);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(adapter, PeftAdapterConfig.FileName)))!;
        Assert.Equal(["qkv_proj", "o_proj"], config["target_modules"]!.AsArray().Select(n => (string?)n));
        var kvRows = KvHeads * (Hidden / Heads);
        using (var file = SafetensorsFile.Open(Path.Combine(adapter, PeftAdapter.WeightsFileName)))
        {
            const string Prefix = "base_model.model.model.layers.0.self_attn.";
            Assert.Equal([$"{Prefix}o_proj.lora_A.weight", $"{Prefix}o_proj.lora_B.weight", $"{Prefix}qkv_proj.lora_A.weight", $"{Prefix}qkv_proj.lora_B.weight"], file.Tensors.Keys.Order(StringComparer.Ordinal));
            Assert.Equal([2L, Hidden], file.Tensors[$"{Prefix}qkv_proj.lora_A.weight"].Shape);
            Assert.Equal([Hidden + (2L * kvRows), 2], file.Tensors[$"{Prefix}qkv_proj.lora_B.weight"].Shape);
        }

        var loaded = PeftAdapter.Load(adapter, AdapterBaseShape.FromModelFolder(output), maxRank: 8);
        Assert.True(loaded.TryGetWeights(0, LoraTarget.VProj, out var v));
        Assert.True(loaded.TryGetWeights(0, LoraTarget.QProj, out var q));
        Assert.Equal((Hidden, kvRows), (v.InCount, v.OutCount));
        Assert.Equal(q.A, v.A);
    }

    [Fact]
    public void MakeAdapterOnAnInt4Phi3ImportRefusesPartOfAFusedModule()
    {
        // int4 with --lora imports (its numbers: the engine's HfImportInt4LoraTests).
        var output = NewDirectory("onnx-part");
        var (imported, stdout, importErr) = Run("import", "--from", WritePhi3Checkpoint(), "--out", output, "--precision", "int4", "--lora", "all");
        Assert.True(imported == 0, importErr);
        Assert.Contains("int4 (MatMulNBits, block 32, accuracy level 4), LoRA inputs on q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", stdout);
        var (code, _, err) = Run("make-adapter", "--model", output, "--out", NewDirectory("adapter-part"), "--rank", "2", "--targets", "v_proj,o_proj", "--seed", "5");
        Assert.Equal(2, code);
        Assert.Contains("v_proj", err);
        Assert.Contains("qkv_proj", err);
    }

    [Fact]
    public void Fp16WithLoraIsAUsageErrorNamingBothFlags()
    {
        var (code, _, err) = Run("import", "--from", WritePhi3Checkpoint(), "--out", NewDirectory("fp16"), "--precision", "fp16", "--lora", "all");
        Assert.Equal(2, code);
        Assert.Contains("--lora", err);
        Assert.Contains("--precision fp16", err);
    }

    /// <summary>A one-layer Phi-3 checkpoint (fused qkv_proj and gate_up_proj) of small random F32 weights.</summary>
    private static string WritePhi3Checkpoint()
    {
        var dir = NewDirectory("phi3");
        Directory.CreateDirectory(dir);
        SyntheticTokenizer.Write(dir, Vocab);
        var random = new Random(3);
        SafetensorsWriter.Tensor Tensor(string name, params long[] shape) =>
            new(name, "F32", shape, Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(_ => (float)((random.NextDouble() - 0.5) * 0.2)).ToArray());
        var kvRows = KvHeads * (Hidden / Heads);
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
        [
            Tensor("model.embed_tokens.weight", Vocab, Hidden),
            Tensor("model.layers.0.input_layernorm.weight", Hidden),
            Tensor("model.layers.0.self_attn.qkv_proj.weight", Hidden + (2 * kvRows), Hidden),
            Tensor("model.layers.0.self_attn.o_proj.weight", Hidden, Hidden),
            Tensor("model.layers.0.post_attention_layernorm.weight", Hidden),
            Tensor("model.layers.0.mlp.gate_up_proj.weight", 2 * Intermediate, Hidden),
            Tensor("model.layers.0.mlp.down_proj.weight", Hidden, Intermediate),
            Tensor("model.norm.weight", Hidden),
            Tensor("lm_head.weight", Vocab, Hidden),
        ]);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { "Phi3ForCausalLM" },
            ["hidden_size"] = Hidden,
            ["intermediate_size"] = Intermediate,
            ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads,
            ["num_key_value_heads"] = KvHeads,
            ["vocab_size"] = Vocab,
            ["max_position_embeddings"] = 128,
            ["eos_token_id"] = 2,
        }));
        return dir;
    }
}
