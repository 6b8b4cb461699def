using System.Text.Json;
using Flywheel.Models.Building;

namespace Flywheel.Models.Import;

/// <summary>
/// A Hugging Face causal-LM checkpoint folder of the LLaMA family: config.json, model.safetensors or shards named
/// by model.safetensors.index.json, and generation_config.json. Reads the architecture's sizes into
/// <see cref="ModelBuilderOptions"/> and refuses, by name, any architecture or setting the builder does not
/// implement, rather than writing a model that computes something else.
/// </summary>
public sealed class HfCheckpoint
{
    /// <summary>Architectures imported, with the ORT GenAI model.type each is written as.</summary>
    public static readonly IReadOnlyDictionary<string, string> Architectures = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["LlamaForCausalLM"] = "llama",
        ["MistralForCausalLM"] = "mistral",
        ["Qwen2ForCausalLM"] = "qwen2",
        ["Qwen3ForCausalLM"] = "qwen3",
        ["Phi3ForCausalLM"] = "phi3",
    };

    private HfCheckpoint(string directory, string architecture, ModelBuilderOptions options, bool tiedEmbeddings, int bos, IReadOnlyList<int> eos, int pad, IReadOnlyList<string> shards)
    {
        (Directory, Architecture, Options, TiedEmbeddings, BosTokenId, EosTokenIds, PadTokenId, Shards) = (directory, architecture, options, tiedEmbeddings, bos, eos, pad, shards);
    }

    public string Directory { get; }

    public string Architecture { get; }

    /// <summary>ORT GenAI's model.type for the architecture.</summary>
    public string ModelType => Architectures[Architecture];

    /// <summary>Sizes, rotary theta, RMSNorm epsilon and attention bias, as the builder takes them.</summary>
    public ModelBuilderOptions Options { get; }

    /// <summary>lm_head shares the embedding matrix (tie_word_embeddings).</summary>
    public bool TiedEmbeddings { get; }

    public int BosTokenId { get; }

    /// <summary>End-of-sequence ids: generation_config.json's, else config.json's.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    public int PadTokenId { get; }

    /// <summary>The safetensors files holding the weights.</summary>
    public IReadOnlyList<string> Shards { get; }

    /// <summary>Reads <paramref name="directory"/>; throws <see cref="ModelConfigException"/> naming what is missing or unsupported.</summary>
    public static HfCheckpoint Read(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        if (!File.Exists(configPath))
        {
            throw new ModelConfigException($"{directory}: no config.json");
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(configPath));
        var c = doc.RootElement;
        var architecture = c.TryGetProperty("architectures", out var archs) && archs.GetArrayLength() == 1 ? archs[0].GetString()! : "(none)";
        if (!Architectures.ContainsKey(architecture))
        {
            throw new ModelConfigException($"{configPath}: architecture {architecture} is not supported (supported: {string.Join(", ", Architectures.Keys)})");
        }

        int Int(string name) => c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : throw new ModelConfigException($"{configPath}: {name} is missing");
        int? OptionalInt(string name) => c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : null;
        double? Number(string name) => c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
        bool Flag(string name, bool fallback) => c.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
        void Refuse(bool unsupported, string what)
        {
            if (unsupported)
            {
                throw new ModelConfigException($"{configPath}: {what} is not supported by the importer");
            }
        }

        var (hidden, heads) = (Int("hidden_size"), Int("num_attention_heads"));
        var context = Int("max_position_embeddings");
        var ropeScaling = ReadRopeScaling(c, configPath);

        var partialRotary = Number("partial_rotary_factor") ?? 1;
        Refuse(partialRotary != 1, $"partial_rotary_factor {partialRotary} (rotary on part of each head)");
        var act = c.TryGetProperty("hidden_act", out var a) ? a.GetString() : "silu";
        Refuse(act != "silu", $"hidden_act '{act}'");
        var qwen3 = architecture == "Qwen3ForCausalLM";
        Refuse(!qwen3 && OptionalInt("head_dim") is { } hd && hd != hidden / heads, $"head_dim {OptionalInt("head_dim")} (other than hidden_size / num_attention_heads = {hidden / heads})");
        Refuse(Flag("mlp_bias", false), "mlp_bias");
        var qwen2 = architecture == "Qwen2ForCausalLM";
        Refuse(!qwen2 && Flag("attention_bias", false), "attention_bias (biases on q/k/v and o)");
        var slidingWindow = OptionalInt("sliding_window");
        var usesWindow = architecture switch
        {
            "MistralForCausalLM" or "Phi3ForCausalLM" => slidingWindow is { } w && w < context,
            "Qwen2ForCausalLM" or "Qwen3ForCausalLM" => Flag("use_sliding_window", false),
            _ => false,
        };
        Refuse(usesWindow, $"sliding_window attention ({slidingWindow})");

        var options = new ModelBuilderOptions
        {
            LayerCount = Int("num_hidden_layers"),
            HiddenSize = hidden,
            HeadCount = heads,
            KvHeadCount = OptionalInt("num_key_value_heads") ?? heads,
            IntermediateSize = Int("intermediate_size"),
            VocabSize = Int("vocab_size"),
            ContextLength = context,
            RopeTheta = Number("rope_theta") ?? 10000,
            RopeScaling = ropeScaling,
            RmsNormEpsilon = (float)(Number("rms_norm_eps") ?? 1e-6),
            AttentionBias = qwen2,
            HeadDim = qwen3 ? OptionalInt("head_dim") : null,
            QkNorm = qwen3,
        };
        options.Validate();

        var generation = ReadGeneration(Path.Combine(directory, "generation_config.json"));
        var eos = generation.Eos ?? Ids(c, "eos_token_id") ?? throw new ModelConfigException($"{directory}: no eos_token_id in generation_config.json or config.json");
        var bos = generation.Bos ?? Ids(c, "bos_token_id")?.FirstOrDefault() ?? 0;
        var pad = generation.Pad ?? Ids(c, "pad_token_id")?.FirstOrDefault() ?? eos[0];
        var tied = Flag("tie_word_embeddings", false); // the default of all three configs
        return new HfCheckpoint(directory, architecture, options, tied, bos, eos, pad, FindShards(directory));
    }

    /// <summary>
    /// rope_scaling: null, "default" or "dynamic" leave the frequencies as they are (dynamic NTK scaling changes them
    /// only past max_position_embeddings, which is the folder's context, so within it it is the default); "linear"
    /// and "llama3" are applied to the rotary caches; any other type is refused by name.
    /// </summary>
    private static RopeScaling? ReadRopeScaling(JsonElement c, string configPath)
    {
        if (!c.TryGetProperty("rope_scaling", out var s) || s.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var type = s.TryGetProperty("rope_type", out var t) || s.TryGetProperty("type", out t) ? t.GetString() : "(unnamed)";
        if (type is "default" or "dynamic")
        {
            return null;
        }

        if (type is not ("linear" or "llama3"))
        {
            throw new ModelConfigException($"{configPath}: rope_scaling type '{type}' is not supported by the importer (supported: default, dynamic, linear, llama3)");
        }

        double Field(string name, bool required) => s.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble()
            : required ? throw new ModelConfigException($"{configPath}: rope_scaling type '{type}' needs a number {name}") : double.NaN;
        var scaling = new RopeScaling { Type = type, Factor = Field("factor", true) };
        if (type == "llama3")
        {
            scaling = scaling with
            {
                LowFreqFactor = Field("low_freq_factor", true),
                HighFreqFactor = Field("high_freq_factor", true),
                OriginalContextLength = Field("original_max_position_embeddings", true),
            };
        }

        try
        {
            scaling.Validate();
        }
        catch (ArgumentException e)
        {
            throw new ModelConfigException($"{configPath}: {e.Message}");
        }

        return scaling;
    }

    private static (IReadOnlyList<int>? Eos, int? Bos, int? Pad) ReadGeneration(string path)
    {
        if (!File.Exists(path))
        {
            return (null, null, null);
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var g = doc.RootElement;
        return (Ids(g, "eos_token_id"), Ids(g, "bos_token_id")?.FirstOrDefault(), Ids(g, "pad_token_id")?.FirstOrDefault());
    }

    /// <summary>An id or a list of ids; null when absent or null.</summary>
    private static IReadOnlyList<int>? Ids(JsonElement e, string name) =>
        !e.TryGetProperty(name, out var v) ? null
        : v.ValueKind == JsonValueKind.Number ? [v.GetInt32()]
        : v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0 ? v.EnumerateArray().Select(x => x.GetInt32()).ToArray()
        : null;

    private static string[] FindShards(string directory)
    {
        var single = Path.Combine(directory, "model.safetensors");
        if (File.Exists(single))
        {
            return [single];
        }

        var indexPath = Path.Combine(directory, "model.safetensors.index.json");
        if (!File.Exists(indexPath))
        {
            throw new ModelConfigException($"{directory}: neither model.safetensors nor model.safetensors.index.json");
        }

        using var index = JsonDocument.Parse(File.ReadAllText(indexPath));
        var files = index.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        return files.Select(f => Path.Combine(directory, f)).ToArray();
    }
}
