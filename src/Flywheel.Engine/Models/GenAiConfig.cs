using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Flywheel.Models;

/// <summary>
/// The parts of an ONNX Runtime GenAI <c>genai_config.json</c> that a decoder-only model needs.
/// <see cref="Load"/> validates every field it reads and names the file and JSON path of the first bad one.
/// </summary>
public sealed record GenAiConfig
{
    public required string ModelType { get; init; }

    public required int ContextLength { get; init; }

    public required int VocabSize { get; init; }

    public int BosTokenId { get; init; }

    public required IReadOnlyList<int> EosTokenIds { get; init; }

    public int PadTokenId { get; init; }

    public required DecoderConfig Decoder { get; init; }

    public SearchConfig Search { get; init; } = new();

    /// <summary>Reads and validates <paramref name="path"/>.</summary>
    public static GenAiConfig Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelConfigException($"{path}: file not found.");
        }

        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ModelConfigException($"{path}: malformed JSON: {e.Message}", e);
        }

        var r = new ConfigReader(path);
        var model = r.Object(root, "model");
        var decoder = r.Object(model, "model.decoder");
        var inputs = r.Object(decoder, "model.decoder.inputs");
        var outputs = r.Object(decoder, "model.decoder.outputs");
        var sessionOptions = decoder["session_options"] as JsonObject;
        var search = model.Parent?["search"] is JsonObject s ? s : null;
        var eos = r.Node(model, "model.eos_token_id");
        var config = new GenAiConfig
        {
            ModelType = r.String(model, "model.type"),
            ContextLength = r.Int(model, "model.context_length", 1),
            VocabSize = r.Int(model, "model.vocab_size", 1),
            BosTokenId = r.OptionalInt(model, "model.bos_token_id") ?? 0,
            EosTokenIds = eos is JsonArray array
                ? array.Select((_, i) => r.Int(array, $"model.eos_token_id[{i}]", 0)).ToList()
                : [r.Int(model, "model.eos_token_id", 0)],
            PadTokenId = r.OptionalInt(model, "model.pad_token_id") ?? 0,
            Decoder = new DecoderConfig
            {
                Filename = r.String(decoder, "model.decoder.filename"),
                HeadSize = r.Int(decoder, "model.decoder.head_size", 1),
                HiddenSize = r.Int(decoder, "model.decoder.hidden_size", 1),
                NumAttentionHeads = r.Int(decoder, "model.decoder.num_attention_heads", 1),
                NumKeyValueHeads = r.Int(decoder, "model.decoder.num_key_value_heads", 1),
                NumHiddenLayers = r.Int(decoder, "model.decoder.num_hidden_layers", 1),
                InputIdsName = r.OptionalString(inputs, "model.decoder.inputs.input_ids") ?? "input_ids",
                AttentionMaskName = r.OptionalString(inputs, "model.decoder.inputs.attention_mask") ?? "attention_mask",
                PositionIdsName = r.OptionalString(inputs, "model.decoder.inputs.position_ids"),
                PastKeyNames = r.Pattern(inputs, "model.decoder.inputs.past_key_names"),
                PastValueNames = r.Pattern(inputs, "model.decoder.inputs.past_value_names"),
                LogitsName = r.OptionalString(outputs, "model.decoder.outputs.logits") ?? "logits",
                PresentKeyNames = r.Pattern(outputs, "model.decoder.outputs.present_key_names"),
                PresentValueNames = r.Pattern(outputs, "model.decoder.outputs.present_value_names"),
                IntraOpThreadCount = sessionOptions is null ? null : r.OptionalInt(sessionOptions, "model.decoder.session_options.intra_op_num_threads"),
                CudaProviderOptions = r.ProviderOptions(sessionOptions, "model.decoder.session_options", "cuda"),
            },
            Search = search is null ? new SearchConfig() : new SearchConfig
            {
                MaxLength = r.OptionalInt(search, "search.max_length"),
                PastPresentShareBuffer = r.OptionalBool(search, "search.past_present_share_buffer") ?? false,
                DoSample = r.OptionalBool(search, "search.do_sample") ?? false,
                Temperature = r.OptionalDouble(search, "search.temperature") ?? 1.0,
                TopK = r.OptionalInt(search, "search.top_k") ?? 0,
                TopP = r.OptionalDouble(search, "search.top_p") ?? 1.0,
                RepetitionPenalty = r.OptionalDouble(search, "search.repetition_penalty") ?? 1.0,
            },
        };

        var d = config.Decoder;
        if (d.NumAttentionHeads % d.NumKeyValueHeads != 0)
        {
            throw new ModelConfigException($"{path}: model.decoder.num_attention_heads ({d.NumAttentionHeads}) must be a multiple of model.decoder.num_key_value_heads ({d.NumKeyValueHeads}).");
        }

        return config;
    }

    /// <summary>Writes the file in ORT GenAI's layout.</summary>
    public void Save(string path)
    {
        var d = Decoder;
        var json = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["bos_token_id"] = BosTokenId,
                ["context_length"] = ContextLength,
                ["decoder"] = new JsonObject
                {
                    ["session_options"] = new JsonObject { ["log_id"] = "onnxruntime-genai", ["provider_options"] = new JsonArray() },
                    ["filename"] = d.Filename,
                    ["head_size"] = d.HeadSize,
                    ["hidden_size"] = d.HiddenSize,
                    ["inputs"] = new JsonObject
                    {
                        ["input_ids"] = d.InputIdsName,
                        ["attention_mask"] = d.AttentionMaskName,
                        ["past_key_names"] = d.PastKeyNames,
                        ["past_value_names"] = d.PastValueNames,
                    },
                    ["outputs"] = new JsonObject
                    {
                        ["logits"] = d.LogitsName,
                        ["present_key_names"] = d.PresentKeyNames,
                        ["present_value_names"] = d.PresentValueNames,
                    },
                    ["num_attention_heads"] = d.NumAttentionHeads,
                    ["num_hidden_layers"] = d.NumHiddenLayers,
                    ["num_key_value_heads"] = d.NumKeyValueHeads,
                },
                ["eos_token_id"] = EosTokenIds.Count == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(e => (JsonNode?)e).ToArray()),
                ["pad_token_id"] = PadTokenId,
                ["type"] = ModelType,
                ["vocab_size"] = VocabSize,
            },
            ["search"] = new JsonObject
            {
                ["diversity_penalty"] = 0.0,
                ["do_sample"] = Search.DoSample,
                ["early_stopping"] = true,
                ["length_penalty"] = 1.0,
                ["max_length"] = Search.MaxLength ?? ContextLength,
                ["min_length"] = 0,
                ["no_repeat_ngram_size"] = 0,
                ["num_beams"] = 1,
                ["num_return_sequences"] = 1,
                ["past_present_share_buffer"] = Search.PastPresentShareBuffer,
                ["repetition_penalty"] = Search.RepetitionPenalty,
                ["temperature"] = Search.Temperature,
                ["top_k"] = Search.TopK,
                ["top_p"] = Search.TopP,
            },
        };
        File.WriteAllText(path, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}

/// <summary><c>model.decoder</c>: the decoder graph's file, sizes and tensor names.</summary>
public sealed record DecoderConfig
{
    public required string Filename { get; init; }

    public required int HeadSize { get; init; }

    public required int HiddenSize { get; init; }

    public required int NumAttentionHeads { get; init; }

    public required int NumKeyValueHeads { get; init; }

    public required int NumHiddenLayers { get; init; }

    public string InputIdsName { get; init; } = "input_ids";

    public string AttentionMaskName { get; init; } = "attention_mask";

    /// <summary>Set only for models that take explicit positions (rotary not fused into attention).</summary>
    public string? PositionIdsName { get; init; }

    /// <summary>printf-style pattern with one %d for the layer index.</summary>
    public string PastKeyNames { get; init; } = "past_key_values.%d.key";

    public string PastValueNames { get; init; } = "past_key_values.%d.value";

    public string LogitsName { get; init; } = "logits";

    public string PresentKeyNames { get; init; } = "present.%d.key";

    public string PresentValueNames { get; init; } = "present.%d.value";

    public int? IntraOpThreadCount { get; init; }

    /// <summary>
    /// The <c>cuda</c> entry of <c>session_options.provider_options</c> (e.g. device_id, enable_cuda_graph),
    /// passed to ONNX Runtime when the model runs with <see cref="Onnx.ExecutionDevice.Cuda"/>; unused on the CPU.
    /// </summary>
    public IReadOnlyDictionary<string, string>? CudaProviderOptions { get; init; }

    /// <summary>Expands a %d pattern for <paramref name="layer"/>.</summary>
    public static string LayerName(string pattern, int layer) => pattern.Replace("%d", layer.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}

/// <summary><c>search</c>: generation defaults.</summary>
public sealed record SearchConfig
{
    public int? MaxLength { get; init; }

    public bool PastPresentShareBuffer { get; init; }

    public bool DoSample { get; init; }

    public double Temperature { get; init; } = 1.0;

    public int TopK { get; init; }

    public double TopP { get; init; } = 1.0;

    public double RepetitionPenalty { get; init; } = 1.0;
}
