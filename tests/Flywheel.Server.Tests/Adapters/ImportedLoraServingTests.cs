using System.Net;
using System.Text;
using System.Text.Json;
using Flywheel.Adapters;
using Flywheel.Models.Import;
using Flywheel.Scheduling;
using Flywheel.Tokenization;

namespace Flywheel.Server.Tests.Adapters;

/// <summary>
/// A user's path end to end: a Hugging Face checkpoint imported with <c>--lora</c>, served, and a PEFT adapter
/// loaded for it by name (as <c>serve --lora NAME=PATH</c> does); a greedy request naming the adapter is answered
/// by the adapted model, not the base.
/// </summary>
public sealed class ImportedLoraServingTests
{
    private const int Hidden = 32, Heads = 2, KvHeads = 1, Intermediate = 64, Vocab = 300;

    [Fact]
    public async Task AnAdapterOnAnImportedCheckpointIsServedByName()
    {
        var checkpoint = TestScratch.Path($"server-hf-{Environment.ProcessId}-{Guid.NewGuid():N}");
        WriteLlamaCheckpoint(checkpoint);
        var folder = checkpoint + "-onnx";
        HfImporter.Import(checkpoint, folder, loraTargets: [LoraTarget.QProj, LoraTarget.VProj, LoraTarget.DownProj]);
        var adapter = checkpoint + "-adapter";
        var config = new PeftAdapterConfig { Rank = 4, Alpha = 8, Targets = [LoraTarget.QProj, LoraTarget.VProj, LoraTarget.DownProj] };
        PeftAdapterWriter.Write(adapter, config, PeftAdapterWriter.RandomWeights(AdapterBaseShape.FromModelFolder(folder), config, seed: 4, bScale: 2));

        await using var server = await EngineServer.StartFolderAsync(folder, new EngineOptions { MaxLoraCount = 1, MaxLoraRank = 8, MaxRunningRequests = 2, MaxBatchTokens = 64 });
        await server.Backend.Adapters.LoadAsync("tuned", adapter);

        async Task<string> CompleteAsync(string model)
        {
            var body = JsonSerializer.Serialize(new { model, prompt = "the engine", max_tokens = 8, temperature = 0 });
            using var response = await server.Client.PostAsync("/v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            var root = JsonDocument.Parse(text).RootElement;
            Assert.Equal(model, root.GetProperty("model").GetString());
            return root.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }

        var tuned = await CompleteAsync("tuned");
        Assert.NotEqual(await CompleteAsync(server.Model.Name), tuned);
        Assert.Equal(tuned, await CompleteAsync("tuned"));
    }

    /// <summary>A one-layer LlamaForCausalLM checkpoint of random F32 weights with the synthetic tokenizer.</summary>
    private static void WriteLlamaCheckpoint(string dir)
    {
        Directory.CreateDirectory(dir);
        SyntheticTokenizer.Write(dir, Vocab);
        var random = new Random(11);
        SafetensorsWriter.Tensor Tensor(string name, double scale, params long[] shape) =>
            new(name, "F32", shape, Enumerable.Range(0, (int)shape.Aggregate(1L, (a, d) => a * d)).Select(_ => (float)((name.EndsWith("norm.weight", StringComparison.Ordinal) ? 1 : 0) + ((random.NextDouble() - 0.5) * scale))).ToArray());
        var kv = KvHeads * (Hidden / Heads);
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"),
        [
            Tensor("model.embed_tokens.weight", 2, Vocab, Hidden),
            Tensor("model.layers.0.input_layernorm.weight", 0.1, Hidden),
            Tensor("model.layers.0.self_attn.q_proj.weight", 0.5, Hidden, Hidden),
            Tensor("model.layers.0.self_attn.k_proj.weight", 0.5, kv, Hidden),
            Tensor("model.layers.0.self_attn.v_proj.weight", 0.5, kv, Hidden),
            Tensor("model.layers.0.self_attn.o_proj.weight", 0.5, Hidden, Hidden),
            Tensor("model.layers.0.post_attention_layernorm.weight", 0.1, Hidden),
            Tensor("model.layers.0.mlp.gate_proj.weight", 0.5, Intermediate, Hidden),
            Tensor("model.layers.0.mlp.up_proj.weight", 0.5, Intermediate, Hidden),
            Tensor("model.layers.0.mlp.down_proj.weight", 0.5, Hidden, Intermediate),
            Tensor("model.norm.weight", 0.1, Hidden),
            Tensor("lm_head.weight", 4, Vocab, Hidden),
        ]);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" },
            ["hidden_size"] = Hidden,
            ["intermediate_size"] = Intermediate,
            ["num_hidden_layers"] = 1,
            ["num_attention_heads"] = Heads,
            ["num_key_value_heads"] = KvHeads,
            ["vocab_size"] = Vocab,
            ["max_position_embeddings"] = 128,
            ["eos_token_id"] = 2,
        }));
    }
}
