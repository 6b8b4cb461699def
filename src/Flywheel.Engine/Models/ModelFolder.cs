using Flywheel.Onnx;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Models;

/// <summary>
/// An ONNX Runtime GenAI model folder opened for inference: genai_config.json validated, the decoder
/// session created, and the session's inputs/outputs checked against what the config says.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    private ModelFolder(string directory, GenAiConfig config, InferenceSession session, InferenceSession? mixedSession, ExecutionDevice device, (OrtElementType Kv, OrtElementType Logits) types)
    {
        (KvElementType, LogitsElementType) = types;
        Directory = directory;
        Config = config;
        Session = session;
        MixedSession = mixedSession;
        Device = device;
    }

    public string Directory { get; }

    /// <summary>The folder's genai_config.json, with the context limited by <see cref="LimitContext"/> if it was.</summary>
    public GenAiConfig Config { get; private set; }

    /// <summary>
    /// Serves at most <paramref name="maxModelLength"/> tokens of context (prompt and output together) instead of
    /// the model's own context_length, which an imported checkpoint takes from max_position_embeddings (128k for
    /// Llama 3): the engine sizes every KV slot by it, so the whole length would need gigabytes per slot. Call
    /// before the folder is handed to an engine.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Below 2, or above the model's context_length.</exception>
    public void LimitContext(int maxModelLength)
    {
        if (maxModelLength < 2 || maxModelLength > Config.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(maxModelLength), maxModelLength,
                $"the context limit must be from 2 to the model's context_length ({Config.ContextLength})");
        }

        Config = Config with { ContextLength = maxModelLength };
    }

    /// <summary>Where the decoder session runs.</summary>
    public ExecutionDevice Device { get; }

    /// <summary>
    /// Element type of past_key_values and present (Float, or Float16 as CUDA exports keep the cache), read from
    /// the session; the engine's <see cref="Execution.KvCache"/> holds this type.
    /// </summary>
    public OrtElementType KvElementType { get; }

    /// <summary>Element type of the logits output (Float or Float16), read from the session; the engine widens Float16 to float before sampling.</summary>
    public OrtElementType LogitsElementType { get; }

    /// <summary>The decoder session (owned by this folder).</summary>
    public InferenceSession Session { get; }

    /// <summary>
    /// The mixed decoder (decode rows and one prompt chunk in one Run) when the folder has
    /// <c>model.mixed.onnx</c> (folders Flywheel builds do; ORT GenAI's do not), else null. Owned by this folder.
    /// </summary>
    public InferenceSession? MixedSession { get; }

    /// <summary>A name for the API (the folder's name).</summary>
    public string Name => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(Directory)));

    public string TokenizerPath => Path.Combine(Directory, "tokenizer.json");

    public string TokenizerConfigPath => Path.Combine(Directory, "tokenizer_config.json");

    /// <summary>
    /// Opens <paramref name="directory"/>; throws <see cref="ModelConfigException"/> naming what is wrong.
    /// With <see cref="ExecutionDevice.Cuda"/>, the CUDA execution provider is appended to
    /// <paramref name="options"/> (configured by the config's cuda provider options) before the session is
    /// created; <see cref="CudaUnavailableException"/> says so when ONNX Runtime's CUDA provider cannot be loaded.
    /// </summary>
    public static ModelFolder Open(string directory, SessionOptions? options = null, ExecutionDevice device = ExecutionDevice.Cpu, bool loadMixed = true)
    {
        if (!System.IO.Directory.Exists(directory))
        {
            throw new ModelConfigException($"{directory}: model folder not found.");
        }

        var configPath = Path.Combine(directory, "genai_config.json");
        var config = GenAiConfig.Load(configPath);
        var modelPath = Path.Combine(directory, config.Decoder.Filename);
        if (!File.Exists(modelPath))
        {
            throw new ModelConfigException($"{configPath}: model.decoder.filename names '{config.Decoder.Filename}', which is not in {directory}.");
        }

        using var ownedOptions = options is null && device != ExecutionDevice.Cpu ? OnnxEnvironment.CreateSessionOptions() : null;
        options ??= ownedOptions;
        if (device == ExecutionDevice.Cuda)
        {
            CudaProvider.Append(options!, config.Decoder.CudaProviderOptions);
        }

        var mixedPath = Path.Combine(directory, MixedFileName);
        var withMixed = loadMixed && File.Exists(mixedPath);
        using var sharedOptions = withMixed && options is null ? OnnxEnvironment.CreateSessionOptions() : null;
        options ??= sharedOptions;
        if (withMixed)
        {
            // Two sessions run in turn on one engine thread: one shared pool, not two that spin against each other.
            OnnxEnvironment.UseGlobalThreadPools(options!);
        }

        InferenceSession session;
        try
        {
            session = options is null ? new InferenceSession(modelPath, DefaultOptions.Value) : new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new ModelConfigException($"{modelPath}: ONNX Runtime cannot load the model: {e.Message}", e);
        }

        (OrtElementType, OrtElementType) types;
        try
        {
            types = Validate(configPath, config, session);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        InferenceSession? mixed = null;
        if (withMixed)
        {
            try
            {
                mixed = new InferenceSession(mixedPath, options);
                if (ValidateMixed(mixedPath, config, mixed) != types)
                {
                    throw new ModelConfigException($"{mixedPath}: the mixed graph's KV or logits element type differs from {config.Decoder.Filename}'s ({types}).");
                }
            }
            catch (Exception e) when (e is OnnxRuntimeException or ModelConfigException)
            {
                mixed?.Dispose();
                session.Dispose();
                throw e as ModelConfigException ?? new ModelConfigException($"{mixedPath}: ONNX Runtime cannot load the model: {e.Message}", e);
            }
        }

        return new ModelFolder(directory, config, session, mixed, device, types);
    }

    /// <summary>Default options for folders opened without any (created over the engine's environment, never disposed).</summary>
    private static readonly Lazy<SessionOptions> DefaultOptions = new(OnnxEnvironment.CreateSessionOptions);

    /// <summary>The mixed graph's file name in a model folder.</summary>
    public const string MixedFileName = "model.mixed.onnx";

    /// <summary>Input and output names of the mixed graph's chunk stream (the decode stream uses the config's names).</summary>
    public static class MixedNames
    {
        public const string ChunkIds = "chunk_ids";
        public const string ChunkMask = "chunk_attention_mask";

        public static string ChunkPast(int layer, string kind) => $"chunk_past_key_values.{layer}.{kind}";

        public static string ChunkPresent(int layer, string kind) => $"chunk_present.{layer}.{kind}";
    }

    private static (OrtElementType Kv, OrtElementType Logits) ValidateMixed(string path, GenAiConfig config, InferenceSession session)
    {
        var types = Validate(path, config, session, extraInputs: 2 + (2 * config.Decoder.NumHiddenLayers));
        var inputs = session.InputNames.ToHashSet();
        var outputs = session.OutputNames.ToHashSet();
        var expected = new List<string> { MixedNames.ChunkIds, MixedNames.ChunkMask };
        for (var l = 0; l < config.Decoder.NumHiddenLayers; l++)
        {
            expected.Add(MixedNames.ChunkPast(l, "key"));
            expected.Add(MixedNames.ChunkPast(l, "value"));
        }

        var missing = expected.Where(n => !inputs.Contains(n)).ToList();
        for (var l = 0; l < config.Decoder.NumHiddenLayers; l++)
        {
            if (!outputs.Contains(MixedNames.ChunkPresent(l, "key")))
            {
                missing.Add(MixedNames.ChunkPresent(l, "key"));
            }
        }

        if (missing.Count > 0)
        {
            throw new ModelConfigException($"{path}: the mixed graph lacks {string.Join(", ", missing)}.");
        }

        return types;
    }

    /// <summary>
    /// Checks that every tensor the config names exists in the graph with a type and rank the engine feeds;
    /// returns the KV and logits element types (each Float or Float16; every past and present tensor the same).
    /// </summary>
    internal static (OrtElementType Kv, OrtElementType Logits) Validate(string configPath, GenAiConfig config, InferenceSession session, int extraInputs = 0)
    {
        var d = config.Decoder;
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;

        void Expect(IReadOnlyDictionary<string, NodeMetadata> declared, string kind, string name, string field, OrtElementType type, int rank) =>
            ExpectOneOf(declared, kind, name, field, [type], rank);

        OrtElementType ExpectOneOf(IReadOnlyDictionary<string, NodeMetadata> declared, string kind, string name, string field, OrtElementType[] types, int rank)
        {
            if (!declared.TryGetValue(name, out var info))
            {
                throw new ModelConfigException(
                    $"{configPath}: {field} says the model has {kind} '{name}', but it does not; its {kind}s are: {string.Join(", ", declared.Keys)}.");
            }

            if (!info.IsTensor || !types.Contains(info.ElementDataType) || info.Dimensions.Length != rank)
            {
                throw new ModelConfigException($"{configPath}: {kind} '{name}' ({field}) is {Describe(name, info)}, expected {string.Join(" or ", types)} of rank {rank}.");
            }

            return info.ElementDataType;
        }

        Expect(inputs, "input", d.InputIdsName, "model.decoder.inputs.input_ids", OrtElementType.Int64, 2);
        Expect(inputs, "input", d.AttentionMaskName, "model.decoder.inputs.attention_mask", OrtElementType.Int64, 2);
        // The engine runs float32 and float16 logits and caches (CPU and CUDA exports); anything else is refused by name.
        OrtElementType[] runnable = [OrtElementType.Float, OrtElementType.Float16];
        var logits = ExpectOneOf(outputs, "output", d.LogitsName, "model.decoder.outputs.logits", runnable, 3);
        var kv = ExpectOneOf(inputs, "input", DecoderConfig.LayerName(d.PastKeyNames, 0), "model.decoder.inputs.past_key_names", runnable, 4);
        for (var l = 0; l < d.NumHiddenLayers; l++)
        {
            // One cache buffer is both past and present, so every one of them has the first past key's type.
            Expect(inputs, "input", DecoderConfig.LayerName(d.PastKeyNames, l), "model.decoder.inputs.past_key_names", kv, 4);
            Expect(inputs, "input", DecoderConfig.LayerName(d.PastValueNames, l), "model.decoder.inputs.past_value_names", kv, 4);
            Expect(outputs, "output", DecoderConfig.LayerName(d.PresentKeyNames, l), "model.decoder.outputs.present_key_names", kv, 4);
            Expect(outputs, "output", DecoderConfig.LayerName(d.PresentValueNames, l), "model.decoder.outputs.present_value_names", kv, 4);
        }

        if (d.PositionIdsName is not null)
        {
            throw new ModelConfigException($"{configPath}: model.decoder.inputs.position_ids is set; Flywheel runs models whose rotary embedding is fused into GroupQueryAttention (no position_ids input).");
        }

        // A LoRA-capable graph (make-model --lora) adds its adapter inputs; the engine binds them itself.
        var expectedInputs = 2 + (2 * d.NumHiddenLayers) + extraInputs + session.InputNames.Count(Adapters.LoraGraphNames.IsLoraInput);

        if (session.InputNames.Count != expectedInputs)
        {
            throw new ModelConfigException(
                $"{configPath}: the model has {session.InputNames.Count} inputs but the config describes {expectedInputs} (model.decoder.num_hidden_layers = {d.NumHiddenLayers}); inputs: {string.Join(", ", session.InputNames)}.");
        }

        var pastName = DecoderConfig.LayerName(d.PastKeyNames, 0);
        var past = inputs[pastName].Dimensions;
        if ((past[1] >= 0 && past[1] != d.NumKeyValueHeads) || (past[3] >= 0 && past[3] != d.HeadSize))
        {
            throw new ModelConfigException(
                $"{configPath}: past key shape {Describe(pastName, inputs[pastName])} disagrees with model.decoder.num_key_value_heads ({d.NumKeyValueHeads}) or model.decoder.head_size ({d.HeadSize}).");
        }

        return (kv, logits);
    }

    /// <summary>"name: Float[batch, 2, past_sequence_length, 16]": a declared tensor as error messages show it.</summary>
    internal static string Describe(string name, NodeMetadata info)
    {
        if (!info.IsTensor)
        {
            return $"{name}: {info.OnnxValueType}";
        }

        var dims = info.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : info.SymbolicDimensions[i]);
        return $"{name}: {info.ElementDataType}[{string.Join(", ", dims)}]";
    }

    public void Dispose()
    {
        Session.Dispose();
        MixedSession?.Dispose();
    }
}
