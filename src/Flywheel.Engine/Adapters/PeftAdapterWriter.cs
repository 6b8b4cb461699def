using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Models.Import;

namespace Flywheel.Adapters;

/// <summary>
/// Writes LoRA adapters in PEFT's on-disk format (adapter_config.json and adapter_model.safetensors, keys as
/// save_pretrained names them), and makes seeded random ones for tests and benchmarks.
/// </summary>
public static class PeftAdapterWriter
{
    /// <summary>
    /// Writes <paramref name="config"/> and <paramref name="weights"/> (A [r, in], B [out, r] per layer and
    /// target) to <paramref name="directory"/>, tensors stored as <paramref name="dtype"/> (F32, F16 or BF16).
    /// Each of the config's <see cref="PeftAdapterConfig.Modules"/> is one lora_A and lora_B pair under its own
    /// name, as save_pretrained writes it: a fused module (Phi-3's qkv_proj) takes its parts' shared A and their
    /// B rows stacked in part order. Throws <see cref="ArgumentException"/> when a fused module's parts do not
    /// share one A (no PEFT adapter could hold them).
    /// </summary>
    public static void Write(string directory, PeftAdapterConfig config, IReadOnlyDictionary<(int Layer, LoraTarget Target), LoraWeights> weights, string dtype = "F32")
    {
        System.IO.Directory.CreateDirectory(directory);
        var json = new JsonObject
        {
            ["alpha_pattern"] = new JsonObject(),
            ["base_model_name_or_path"] = config.BaseModelNameOrPath,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = config.Layers is null ? null : new JsonArray(config.Layers.Select(l => (JsonNode?)l).ToArray()),
            ["lora_alpha"] = config.Alpha,
            ["lora_dropout"] = 0.0,
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = config.Rank,
            ["rank_pattern"] = new JsonObject(),
            ["target_modules"] = new JsonArray(config.Modules.Select(m => (JsonNode?)m.Name).ToArray()),
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = config.UseRsLora,
        };
        File.WriteAllText(Path.Combine(directory, PeftAdapterConfig.FileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var stray = weights.Keys.Where(k => !config.Targets.Contains(k.Target)).ToList();
        if (stray.Count > 0)
        {
            throw new ArgumentException($"weights for layer {stray[0].Layer} {LoraTargets.PeftName(stray[0].Target)}, which the config does not adapt", nameof(weights));
        }

        var tensors = new List<SafetensorsWriter.Tensor>();
        foreach (var (layer, module) in weights.Keys.Select(k => k.Layer).Distinct().Order().SelectMany(l => config.Modules.Select(m => (l, m))))
        {
            var parts = module.Parts.Select(t => weights.TryGetValue((layer, t), out var w) ? w : throw new ArgumentException($"no weights for layer {layer} {LoraTargets.PeftName(t)}, which {module.Name} adapts", nameof(weights))).ToList();
            if (parts.Any(p => !p.A.AsSpan().SequenceEqual(parts[0].A)))
            {
                throw new ArgumentException($"layer {layer}: the parts of {module.Name} have different lora_A; a fused module shares one A", nameof(weights));
            }

            var prefix = LoraTargets.ModulePath(layer, module);
            var b = parts.SelectMany(p => p.B).ToArray(); // [out_1 + out_2 (+ out_3), r]: each part's rows, in order
            tensors.Add(new SafetensorsWriter.Tensor($"{prefix}.lora_A.weight", dtype, [parts[0].Rank, parts[0].InCount], parts[0].A));
            tensors.Add(new SafetensorsWriter.Tensor($"{prefix}.lora_B.weight", dtype, [parts.Sum(p => p.OutCount), parts[0].Rank], b));
        }

        SafetensorsWriter.Write(Path.Combine(directory, PeftAdapter.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// Seeded random weights for every layer of <paramref name="baseShape"/> and every module of
    /// <paramref name="config"/>, by target: a fused module draws one A and one B [its parts' outputs, r], so its
    /// parts share A and take B's rows in order. A is uniform in +-1/sqrt(in) (the bound of PEFT's Kaiming-uniform
    /// init); B is uniform in +-<paramref name="bScale"/>/sqrt(r). PEFT starts B at zero, which makes a fresh
    /// adapter a no-op; a non-zero B is what lets a test tell an applied adapter from an ignored one.
    /// </summary>
    public static Dictionary<(int Layer, LoraTarget Target), LoraWeights> RandomWeights(AdapterBaseShape baseShape, PeftAdapterConfig config, int seed, double bScale = 0.5)
    {
        var random = new Random(seed);
        var weights = new Dictionary<(int, LoraTarget), LoraWeights>();
        var layers = config.Layers ?? Enumerable.Range(0, baseShape.LayerCount).ToList();
        foreach (var layer in layers)
        {
            foreach (var module in config.Modules)
            {
                var inCount = baseShape.Dimensions(module.Parts[0]).In;
                var a = Uniform(random, config.Rank * inCount, 1 / Math.Sqrt(inCount));
                var b = Uniform(random, module.Parts.Sum(t => baseShape.Dimensions(t).Out) * config.Rank, bScale / Math.Sqrt(config.Rank));
                var row = 0;
                foreach (var target in module.Parts)
                {
                    var outCount = baseShape.Dimensions(target).Out;
                    weights[(layer, target)] = new LoraWeights(config.Rank, inCount, outCount, a, b[(row * config.Rank)..((row + outCount) * config.Rank)], config.Scale);
                    row += outCount;
                }
            }
        }

        return weights;
    }

    private static float[] Uniform(Random random, int count, double bound)
    {
        var values = new float[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = (float)(((random.NextDouble() * 2) - 1) * bound);
        }

        return values;
    }
}
