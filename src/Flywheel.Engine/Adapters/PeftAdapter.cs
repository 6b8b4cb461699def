using System.Text.RegularExpressions;
using Flywheel.Models;
using Flywheel.Models.Import;

namespace Flywheel.Adapters;

/// <summary>
/// A LoRA adapter read from a Hugging Face PEFT folder (adapter_config.json and adapter_model.safetensors)
/// and checked against a base model's shape: every adapted (layer, target) has an A [r, in] and a B [out, r]
/// that fit the base's projection, and the file holds nothing else. Phi-3's fused qkv_proj and gate_up_proj
/// adapters are split into their parts' adapters by rows of B (<see cref="LoraModule"/>). Any mismatch is a
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
        var expected = new HashSet<(int, LoraModule)>(layers.SelectMany(l => config.Modules.Select(m => (l, m))));

        // Pair every key with its module first, so that a stray key is named before any data is read.
        var parts = new Dictionary<(int Layer, LoraModule Module), (string? A, string? B)>();
        foreach (var key in file.Tensors.Keys.Order(StringComparer.Ordinal))
        {
            var match = KeyPattern().Match(key);
            if (!match.Success || LoraModule.Find(match.Groups["module"].Value) is not { } module)
            {
                // A PEFT model's in-memory state_dict names the adapter (lora_A.default.weight); save_pretrained
                // strips the name, so such a key means the file was written some other way.
                var why = NamedAdapterPattern().IsMatch(key)
                    ? "a key with an adapter name after lora_A/lora_B is a PEFT model's in-memory state_dict; PeftModel.save_pretrained writes ...lora_A.weight: save the adapter with it"
                    : "expected only ...layers.N.self_attn|mlp.<module>.lora_A.weight and lora_B.weight";
                throw new ModelConfigException($"{path}: unexpected tensor '{key}' ({why}).");
            }

            var layer = int.Parse(match.Groups["layer"].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (key != $"{LoraTargets.ModulePath(layer, module)}.{match.Groups["half"].Value}.weight")
            {
                throw new ModelConfigException($"{path}: unexpected tensor '{key}' ({module.Name} belongs under {module.Block}).");
            }

            if (!expected.Contains((layer, module)))
            {
                throw new ModelConfigException($"{path}: unexpected tensor '{key}': layer {layer} {module.Name} is not adapted by {configPath} (target_modules, layers_to_transform) or not in the base model ({baseShape.LayerCount} layers).");
            }

            parts.TryGetValue((layer, module), out var pair);
            parts[(layer, module)] = match.Groups["half"].Value == "lora_A" ? (key, pair.B) : (pair.A, key);
        }

        var weights = new Dictionary<(int, LoraTarget), LoraWeights>();
        foreach (var (layer, module) in expected.OrderBy(e => e.Item1).ThenBy(e => e.Item2.Parts[0]))
        {
            var prefix = LoraTargets.ModulePath(layer, module);
            parts.TryGetValue((layer, module), out var pair);
            var aKey = pair.A ?? throw new ModelConfigException($"{path}: missing tensor '{prefix}.lora_A.weight' ({configPath} adapts {module.Name} in layer {layer}).");
            var bKey = pair.B ?? throw new ModelConfigException($"{path}: missing tensor '{prefix}.lora_B.weight' ({configPath} adapts {module.Name} in layer {layer}).");
            var inCount = baseShape.Dimensions(module.Parts[0]).In;
            var outCounts = module.Parts.Select(t => baseShape.Dimensions(t).Out).ToArray();
            CheckShape(path, file, aKey, config.Rank, inCount, "[r, in]");
            CheckShape(path, file, bKey, outCounts.Sum(), config.Rank, module.IsFused ? $"[{string.Join(" + ", outCounts)}, r], the fused outputs stacked" : "[out, r]");
            var (a, b) = (file.ReadFloats(aKey), file.ReadFloats(bKey));
            var firstRow = 0;
            for (var i = 0; i < module.Parts.Count; i++)
            {
                // A fused lora_B's rows are its parts' outputs in order; lora_A is shared (see LoraModule).
                var rows = module.IsFused ? b.AsSpan(firstRow * config.Rank, outCounts[i] * config.Rank).ToArray() : b;
                weights[(layer, module.Parts[i])] = new LoraWeights(config.Rank, inCount, outCounts[i], a, rows, config.Scale);
                firstRow += outCounts[i];
            }
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

    [GeneratedRegex(@"^base_model\.model\.model\.layers\.(?<layer>\d{1,6})\.(self_attn|mlp)\.(?<module>[a-z_]+)\.(?<half>lora_A|lora_B)\.weight$")]
    private static partial Regex KeyPattern();

    [GeneratedRegex(@"\.lora_[AB]\.[^.]+\.weight$")]
    private static partial Regex NamedAdapterPattern();
}
