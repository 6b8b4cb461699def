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
            ["target_modules"] = new JsonArray(config.Targets.Select(t => (JsonNode?)LoraTargets.PeftName(t)).ToArray()),
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = config.UseRsLora,
        };
        File.WriteAllText(Path.Combine(directory, PeftAdapterConfig.FileName), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

        var tensors = new List<SafetensorsWriter.Tensor>();
        foreach (var ((layer, target), w) in weights.OrderBy(p => p.Key))
        {
            var prefix = LoraTargets.ModulePath(layer, target);
            tensors.Add(new SafetensorsWriter.Tensor($"{prefix}.lora_A.weight", dtype, [w.Rank, w.InCount], w.A));
            tensors.Add(new SafetensorsWriter.Tensor($"{prefix}.lora_B.weight", dtype, [w.OutCount, w.Rank], w.B));
        }

        SafetensorsWriter.Write(Path.Combine(directory, PeftAdapter.WeightsFileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>
    /// Seeded random weights for every layer of <paramref name="baseShape"/> and every target of
    /// <paramref name="config"/>. A is uniform in +-1/sqrt(in) (the bound of PEFT's Kaiming-uniform init); B is
    /// uniform in +-<paramref name="bScale"/>/sqrt(r). PEFT starts B at zero, which makes a fresh adapter a no-op;
    /// a non-zero B is what lets a test tell an applied adapter from an ignored one.
    /// </summary>
    public static Dictionary<(int Layer, LoraTarget Target), LoraWeights> RandomWeights(AdapterBaseShape baseShape, PeftAdapterConfig config, int seed, double bScale = 0.5)
    {
        var random = new Random(seed);
        var weights = new Dictionary<(int, LoraTarget), LoraWeights>();
        var layers = config.Layers ?? Enumerable.Range(0, baseShape.LayerCount).ToList();
        foreach (var layer in layers)
        {
            foreach (var target in config.Targets)
            {
                var (inCount, outCount) = baseShape.Dimensions(target);
                var a = Uniform(random, config.Rank * inCount, 1 / Math.Sqrt(inCount));
                var b = Uniform(random, outCount * config.Rank, bScale / Math.Sqrt(config.Rank));
                weights[(layer, target)] = new LoraWeights(config.Rank, inCount, outCount, a, b, config.Scale);
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
