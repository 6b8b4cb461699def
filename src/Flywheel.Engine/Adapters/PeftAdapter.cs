using System.Text.RegularExpressions;
using Flywheel.Models;
using Flywheel.Models.Import;

namespace Flywheel.Adapters;

/// <summary>
/// A LoRA adapter read from a Hugging Face PEFT folder (adapter_config.json and adapter_model.safetensors)
/// and checked against a base model's shape: every adapted (layer, target) has an A [r, in] and a B [out, r]
/// that fit the base's projection, and the file holds nothing else. Any mismatch is a
/// <see cref="ModelConfigException"/> naming the file and the field or tensor key.
/// </summary>
public sealed partial class PeftAdapter
{
    /// <summary>The file name PEFT's save_pretrained gives the weights.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    private readonly Dictionary<(int Layer, LoraTarget Target), LoraWeights> _weights;

    private PeftAdapter(string directory, PeftAdapterConfig config, Dictionary<(int, LoraTarget), LoraWeights> weights)
    {
        Directory = directory;
        Config = config;
        _weights = weights;
    }

    /// <summary>The folder read.</summary>
    public string Directory { get; }

    /// <summary>The adapter's config (rank, alpha, targets).</summary>
    public PeftAdapterConfig Config { get; }

    /// <summary>Number of adapted (layer, target) pairs.</summary>
    public int ModuleCount => _weights.Count;

    /// <summary>The weights for <paramref name="target"/> in <paramref name="layer"/>; false where it is not adapted.</summary>
    public bool TryGetWeights(int layer, LoraTarget target, out LoraWeights weights) =>
        _weights.TryGetValue((layer, target), out weights!);

    /// <summary>
    /// Reads the adapter in <paramref name="directory"/> for a base of shape <paramref name="baseShape"/>,
    /// refusing a rank over <paramref name="maxRank"/>. Throws <see cref="ModelConfigException"/>.
    /// </summary>
    public static PeftAdapter Load(string directory, AdapterBaseShape baseShape, int maxRank)
    {
        var config = PeftAdapterConfig.Load(Path.Combine(directory, PeftAdapterConfig.FileName), maxRank);
        var layers = config.Layers ?? Enumerable.Range(0, baseShape.LayerCount).ToList();
        var configPath = Path.Combine(directory, PeftAdapterConfig.FileName);
        if (layers.FirstOrDefault(l => l >= baseShape.LayerCount, -1) is var outside and >= 0)
        {
            throw new ModelConfigException($"{configPath}: field 'layers_to_transform' names layer {outside}, but the base model has {baseShape.LayerCount} layers.");
        }

        var path = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(path))
        {
            throw new ModelConfigException($"{path}: file not found (PEFT adapters are read from safetensors only).");
        }

        using var file = SafetensorsFile.Open(path);
        var expected = new HashSet<(int, LoraTarget)>(layers.SelectMany(l => config.Targets.Select(t => (l, t))));

        // Pair every key with its module first, so that a stray key is named before any data is read.
        var parts = new Dictionary<(int Layer, LoraTarget Target), (string? A, string? B)>();
        foreach (var key in file.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            var match = KeyPattern().Match(key);
            if (!match.Success || !LoraTargets.TryParse(match.Groups["target"].Value, out var target))
            {
                throw new ModelConfigException($"{path}: unexpected tensor '{key}' (expected only ...layers.N.self_attn|mlp.<target>.lora_A.weight and lora_B.weight).");
            }

            var layer = int.Parse(match.Groups["layer"].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (key != $"{LoraTargets.ModulePath(layer, target)}.{match.Groups["half"].Value}.weight")
            {
                throw new ModelConfigException($"{path}: unexpected tensor '{key}' ({LoraTargets.PeftName(target)} belongs under {(target >= LoraTarget.GateProj ? "mlp" : "self_attn")}).");
            }

            if (!expected.Contains((layer, target)))
            {
                throw new ModelConfigException($"{path}: unexpected tensor '{key}': layer {layer} {LoraTargets.PeftName(target)} is not adapted by {configPath} (target_modules, layers_to_transform) or not in the base model ({baseShape.LayerCount} layers).");
            }

            parts.TryGetValue((layer, target), out var pair);
            parts[(layer, target)] = match.Groups["half"].Value == "lora_A" ? (key, pair.B) : (pair.A, key);
        }

        var weights = new Dictionary<(int, LoraTarget), LoraWeights>();
        foreach (var (layer, target) in expected.Order())
        {
            var prefix = LoraTargets.ModulePath(layer, target);
            parts.TryGetValue((layer, target), out var pair);
            var aKey = pair.A ?? throw new ModelConfigException($"{path}: missing tensor '{prefix}.lora_A.weight' ({configPath} adapts {LoraTargets.PeftName(target)} in layer {layer}).");
            var bKey = pair.B ?? throw new ModelConfigException($"{path}: missing tensor '{prefix}.lora_B.weight' ({configPath} adapts {LoraTargets.PeftName(target)} in layer {layer}).");
            var (inCount, outCount) = baseShape.Dimensions(target);
            CheckShape(path, file, aKey, config.Rank, inCount, "[r, in]");
            CheckShape(path, file, bKey, outCount, config.Rank, "[out, r]");
            weights[(layer, target)] = new LoraWeights(config.Rank, inCount, outCount, file.ReadFloats(aKey), file.ReadFloats(bKey), config.Scale);
        }

        return new PeftAdapter(directory, config, weights);
    }

    private static void CheckShape(string path, SafetensorsFile file, string key, int rows, int columns, string layout)
    {
        var shape = file.Tensors[key].Shape;
        if (shape.Length != 2 || shape[0] != rows || shape[1] != columns)
        {
            throw new ModelConfigException($"{path}: tensor '{key}' has shape [{string.Join(", ", shape)}]; the base model and r need [{rows}, {columns}] {layout}.");
        }
    }

    [GeneratedRegex(@"^base_model\.model\.model\.layers\.(?<layer>\d{1,6})\.(self_attn|mlp)\.(?<target>[a-z_]+)\.(?<half>lora_A|lora_B)\.weight$")]
    private static partial Regex KeyPattern();
}
