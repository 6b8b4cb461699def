using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Models;

namespace Flywheel.Adapters;

/// <summary>
/// The fields of a PEFT <c>adapter_config.json</c> that the engine serves: a plain LoRA (peft_type LORA) of
/// one rank and alpha over some of a LLaMA layer's seven projections (or Phi-3's fused qkv_proj and gate_up_proj). Every field that would change what the
/// adapter computes and is not supported (DoRA, LoRA biases, per-module ranks, extra trained modules,
/// transposed weights) is refused by <see cref="Load"/> with the file and field named. Fields that only matter
/// in training (lora_dropout, init_lora_weights) and fields of newer PEFT versions are ignored.
/// </summary>
public sealed record PeftAdapterConfig
{
    /// <summary>The file name PEFT's save_pretrained gives the config.</summary>
    public const string FileName = "adapter_config.json";

    /// <summary>LoraConfig's default r, used when the file omits it.</summary>
    public const int PeftDefaultRank = 8;

    /// <summary>LoraConfig's default lora_alpha, used when the file omits it.</summary>
    public const double PeftDefaultAlpha = 8;

    /// <summary>LoRA rank r: lora_A is [r, in], lora_B is [out, r].</summary>
    public required int Rank { get; init; }

    /// <summary>lora_alpha, the numerator of the scale.</summary>
    public required double Alpha { get; init; }

    /// <summary>Rank-stabilized LoRA: the scale divides by sqrt(r) instead of r.</summary>
    public bool UseRsLora { get; init; }

    /// <summary>
    /// The adapted projections of the graph, without repeats (a fused module's parts are listed one by one). With
    /// <see cref="Modules"/> set they must be exactly its parts.
    /// </summary>
    /// <exception cref="ArgumentException">They are not the parts of <see cref="Modules"/>.</exception>
    public required IReadOnlyList<LoraTarget> Targets
    {
        get => _targets;
        init
        {
            _targets = value;
            CheckModules();
        }
    }

    private readonly IReadOnlyList<LoraTarget> _targets = [];

    /// <summary>
    /// The adapted modules as target_modules names them, each with its own lora_A and lora_B: the projections, or
    /// Phi-3's fused qkv_proj / gate_up_proj covering several of <see cref="Targets"/>. Defaults to one module per target.
    /// </summary>
    /// <exception cref="ArgumentException">Their parts are not <see cref="Targets"/>.</exception>
    public IReadOnlyList<LoraModule> Modules
    {
        get => _modules ?? [.. Targets.Select(LoraModule.Of)];
        init
        {
            _modules = value;
            CheckModules();
        }
    }

    private readonly IReadOnlyList<LoraModule>? _modules;

    // Runs as either list is set (an initializer sets Targets, which is required, and maybe Modules, in either order).
    private void CheckModules()
    {
        if (_modules is null || _targets.Count == 0)
        {
            return;
        }

        var parts = _modules.SelectMany(m => m.Parts).Order().ToList();
        if (!parts.SequenceEqual(_targets.Order()))
        {
            throw new ArgumentException($"the modules ({string.Join(", ", _modules.Select(m => m.Name))}) cover " +
                $"{string.Join(", ", parts.Select(LoraTargets.PeftName))}, not the targets {string.Join(", ", _targets.Select(LoraTargets.PeftName))}");
        }
    }

    /// <summary>The layers adapted (layers_to_transform); null means every layer.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>What the adapter was trained on (informational: the base is checked by shapes, not by name).</summary>
    public string? BaseModelNameOrPath { get; init; }

    /// <summary>The factor on B A: alpha / r, or alpha / sqrt(r) with rsLoRA (PEFT's LoraLayer.update_layer).</summary>
    public double Scale => UseRsLora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    /// <summary>
    /// Most bytes of adapter_config.json read (PEFT writes about 1 KB; rank and alpha patterns for every module of
    /// a large model stay well under this).
    /// </summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>Reads <paramref name="path"/>; throws <see cref="ModelConfigException"/> naming the file and field.</summary>
    public static PeftAdapterConfig Load(string path, int maxRank)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(LocalFile.ReadText(path, MaxFileBytes)) as JsonObject ?? throw new ModelConfigException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path}: malformed JSON: {e.Message}", e);
        }

        ModelConfigException Bad(string field, string why) => new($"{path}: field '{field}' {why}");

        var peftType = root["peft_type"] is JsonValue pt && pt.TryGetValue<string>(out var s) ? s : null;
        if (peftType != "LORA")
        {
            throw Bad("peft_type", $"is {Describe(root["peft_type"])}; only LORA adapters are supported.");
        }

        // PEFT's documented minimum config is peft_type and target_modules: an absent r or lora_alpha means
        // LoraConfig's default (8 for both); an explicit null or a non-number is an error.
        var rank = !root.ContainsKey("r") ? PeftDefaultRank : root["r"] is JsonValue rv && rv.TryGetValue<int>(out var r) ? r : 0;
        if (rank < 1)
        {
            throw Bad("r", $"is {Describe(root["r"])}; expected a positive integer.");
        }

        if (rank > maxRank)
        {
            throw Bad("r", $"is {rank}, over the maximum LoRA rank {maxRank}.");
        }

        var alpha = !root.ContainsKey("lora_alpha") ? PeftDefaultAlpha : root["lora_alpha"] is JsonValue av && av.TryGetValue<double>(out var a) ? a : double.NaN;
        if (!double.IsFinite(alpha) || alpha <= 0)
        {
            throw Bad("lora_alpha", $"is {Describe(root["lora_alpha"])}; expected a positive number.");
        }

        // Each of these changes the computation in a way the stacked-A/B design does not carry.
        RefuseTrue(root, "use_dora", "DoRA (weight-decomposed LoRA) is not supported", Bad);
        RefuseTrue(root, "fan_in_fan_out", "(weights stored transposed, as for GPT-2's Conv1D) is not supported for LLaMA projections", Bad);
        RefuseTrue(root, "lora_bias", "(a trained bias on lora_B) is not supported", Bad);
        if (root["bias"] is { } bias && !(bias is JsonValue bv && bv.TryGetValue<string>(out var b) && b == "none"))
        {
            throw Bad("bias", $"is {Describe(bias)}; only \"none\" is supported (trained biases of the base layers are not served).");
        }

        RefuseNonEmpty(root, "modules_to_save", "lists fully trained modules, which are not served (only LoRA deltas are)", Bad);
        RefuseNonEmpty(root, "rank_pattern", "sets per-module ranks, which are not supported (one r per adapter)", Bad);
        RefuseNonEmpty(root, "alpha_pattern", "sets per-module alphas, which are not supported (one lora_alpha per adapter)", Bad);
        RefuseNonEmpty(root, "layer_replication", "changes the base model's layer stack, which is not supported", Bad);
        RefuseNonEmpty(root, "exclude_modules", "is not supported (list the adapted modules in target_modules)", Bad);
        RefuseNonEmpty(root, "target_parameters", "adapts parameters rather than modules, which is not supported", Bad);

        var modules = ReadModules(root, Bad);
        return new PeftAdapterConfig
        {
            Rank = rank,
            Alpha = alpha,
            UseRsLora = ReadBool(root, "use_rslora", Bad),
            Modules = modules,
            Targets = [.. modules.SelectMany(m => m.Parts).Order()],
            Layers = ReadLayers(root, Bad),
            BaseModelNameOrPath = root["base_model_name_or_path"] is JsonValue nv && nv.TryGetValue<string>(out var name) ? name : null,
        };
    }

    private static IReadOnlyList<LoraModule> ReadModules(JsonObject root, Func<string, string, ModelConfigException> bad)
    {
        // PEFT also takes a string, matched as a regular expression (or "all-linear"); only the list form is
        // read, so what is adapted never depends on regex semantics.
        if (root["target_modules"] is not JsonArray list || list.Count == 0)
        {
            throw bad("target_modules", $"is {Describe(root["target_modules"])}; expected a non-empty list of module names ({ModuleNames}).");
        }

        var modules = new List<LoraModule>();
        foreach (var item in list)
        {
            var name = item is JsonValue v && v.TryGetValue<string>(out var n) ? n : null;
            if (name is null || LoraModule.Find(name) is not { } module)
            {
                throw bad("target_modules", $"names {Describe(item)}, which the base model has no LoRA-adaptable projection for (expected {ModuleNames}).");
            }

            // Phi-3's qkv_proj beside q_proj (say) would adapt one projection twice.
            if (modules.FirstOrDefault(m => m != module && m.Parts.Intersect(module.Parts).Any()) is { } overlap)
            {
                throw bad("target_modules", $"names both {overlap.Name} and {module.Name}, which adapt the same projection.");
            }

            if (!modules.Contains(module))
            {
                modules.Add(module);
            }
        }

        return [.. modules.OrderBy(m => m.Parts[0])];
    }

    private static string ModuleNames => string.Join(", ", LoraModule.All.Select(m => m.Name));

    private static IReadOnlyList<int>? ReadLayers(JsonObject root, Func<string, string, ModelConfigException> bad)
    {
        switch (root["layers_to_transform"])
        {
            case null:
                return null;
            case JsonValue v when v.TryGetValue<int>(out var one) && one >= 0:
                return [one];
            case JsonArray list:
                var layers = new List<int>();
                foreach (var item in list)
                {
                    if (item is not JsonValue iv || !iv.TryGetValue<int>(out var layer) || layer < 0)
                    {
                        throw bad("layers_to_transform", $"holds {Describe(item)}; expected layer indices.");
                    }

                    layers.Add(layer);
                }

                return layers.Distinct().Order().ToList();
            default:
                throw bad("layers_to_transform", $"is {Describe(root["layers_to_transform"])}; expected a layer index or a list of them.");
        }
    }

    private static bool ReadBool(JsonObject root, string field, Func<string, string, ModelConfigException> bad) => root[field] switch
    {
        null => false,
        JsonValue v when v.TryGetValue<bool>(out var value) => value,
        var other => throw bad(field, $"is {Describe(other)}; expected true or false."),
    };

    private static void RefuseTrue(JsonObject root, string field, string why, Func<string, string, ModelConfigException> bad)
    {
        if (ReadBool(root, field, bad))
        {
            throw bad(field, $"is true: {why}.");
        }
    }

    private static void RefuseNonEmpty(JsonObject root, string field, string why, Func<string, string, ModelConfigException> bad)
    {
        var empty = root[field] switch
        {
            null => true,
            JsonArray a => a.Count == 0,
            JsonObject o => o.Count == 0,
            _ => false,
        };
        if (!empty)
        {
            throw bad(field, $"{why}.");
        }
    }

    private static string Describe(JsonNode? node) => node is null ? "missing or null" : node.ToJsonString();
}
