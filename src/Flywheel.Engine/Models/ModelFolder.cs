using Flywheel.Onnx;

namespace Flywheel.Models;

/// <summary>
/// An ONNX Runtime GenAI model folder opened for inference: genai_config.json validated, the decoder
/// session created, and the session's inputs/outputs checked against what the config says.
/// </summary>
public sealed class ModelFolder : IDisposable
{
    private ModelFolder(string directory, GenAiConfig config, InferenceSession session, InferenceSession? mixedSession, ExecutionDevice device)
    {
        Directory = directory;
        Config = config;
        Session = session;
        MixedSession = mixedSession;
        Device = device;
    }

    public string Directory { get; }

    public GenAiConfig Config { get; }

    /// <summary>Where the decoder session runs.</summary>
    public ExecutionDevice Device { get; }

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
    /// created; <see cref="OrtException"/> says so when ONNX Runtime's CUDA provider cannot be loaded.
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

        using var ownedOptions = options is null && device != ExecutionDevice.Cpu ? new SessionOptions() : null;
        options ??= ownedOptions;
        if (device == ExecutionDevice.Cuda)
        {
            options!.AppendCudaExecutionProvider(config.Decoder.CudaProviderOptions);
        }

        var mixedPath = Path.Combine(directory, MixedFileName);
        var withMixed = loadMixed && File.Exists(mixedPath);
        using var sharedOptions = withMixed && options is null ? new SessionOptions() : null;
        options ??= sharedOptions;
        if (withMixed)
        {
            // Two sessions run in turn on one engine thread: one shared pool, not two that spin against each other.
            options!.UseGlobalThreadPools();
        }

        InferenceSession session;
        try
        {
            session = new InferenceSession(modelPath, options);
        }
        catch (OrtException e)
        {
            throw new ModelConfigException($"{modelPath}: ONNX Runtime cannot load the model: {e.Message}", e);
        }

        try
        {
            Validate(configPath, config, session);
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
                ValidateMixed(mixedPath, config, mixed);
            }
            catch (Exception e) when (e is OrtException or ModelConfigException)
            {
                mixed?.Dispose();
                session.Dispose();
                throw e as ModelConfigException ?? new ModelConfigException($"{mixedPath}: ONNX Runtime cannot load the model: {e.Message}", e);
            }
        }

        return new ModelFolder(directory, config, session, mixed, device);
    }

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

    private static void ValidateMixed(string path, GenAiConfig config, InferenceSession session)
    {
        Validate(path, config, session, extraInputs: 2 + (2 * config.Decoder.NumHiddenLayers));
        var inputs = session.Inputs.Select(i => i.Name).ToHashSet();
        var outputs = session.Outputs.Select(o => o.Name).ToHashSet();
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
    }

    /// <summary>Checks that every tensor the config names exists in the graph with the type and rank the engine feeds.</summary>
    internal static void Validate(string configPath, GenAiConfig config, InferenceSession session, int extraInputs = 0)
    {
        var d = config.Decoder;
        var inputs = session.Inputs.ToDictionary(i => i.Name);
        var outputs = session.Outputs.ToDictionary(o => o.Name);

        void Expect(Dictionary<string, TensorInfo> declared, string kind, string name, string field, TensorElementType type, int rank)
        {
            if (!declared.TryGetValue(name, out var info))
            {
                throw new ModelConfigException(
                    $"{configPath}: {field} says the model has {kind} '{name}', but it does not; its {kind}s are: {string.Join(", ", declared.Keys)}.");
            }

            if (info.ElementType != type || info.Rank != rank)
            {
                throw new ModelConfigException($"{configPath}: {kind} '{name}' ({field}) is {info}, expected {type} of rank {rank}.");
            }
        }

        Expect(inputs, "input", d.InputIdsName, "model.decoder.inputs.input_ids", TensorElementType.Int64, 2);
        Expect(inputs, "input", d.AttentionMaskName, "model.decoder.inputs.attention_mask", TensorElementType.Int64, 2);
        Expect(outputs, "output", d.LogitsName, "model.decoder.outputs.logits", TensorElementType.Float, 3);
        for (var l = 0; l < d.NumHiddenLayers; l++)
        {
            Expect(inputs, "input", DecoderConfig.LayerName(d.PastKeyNames, l), "model.decoder.inputs.past_key_names", TensorElementType.Float, 4);
            Expect(inputs, "input", DecoderConfig.LayerName(d.PastValueNames, l), "model.decoder.inputs.past_value_names", TensorElementType.Float, 4);
            Expect(outputs, "output", DecoderConfig.LayerName(d.PresentKeyNames, l), "model.decoder.outputs.present_key_names", TensorElementType.Float, 4);
            Expect(outputs, "output", DecoderConfig.LayerName(d.PresentValueNames, l), "model.decoder.outputs.present_value_names", TensorElementType.Float, 4);
        }

        if (d.PositionIdsName is not null)
        {
            throw new ModelConfigException($"{configPath}: model.decoder.inputs.position_ids is set; Flywheel runs models whose rotary embedding is fused into GroupQueryAttention (no position_ids input).");
        }

        var expectedInputs = 2 + (2 * d.NumHiddenLayers) + extraInputs;

        if (session.Inputs.Count != expectedInputs)
        {
            throw new ModelConfigException(
                $"{configPath}: the model has {session.Inputs.Count} inputs but the config describes {expectedInputs} (model.decoder.num_hidden_layers = {d.NumHiddenLayers}); inputs: {string.Join(", ", session.Inputs.Select(i => i.Name))}.");
        }

        var past = inputs[DecoderConfig.LayerName(d.PastKeyNames, 0)];
        if ((past.Shape[1] >= 0 && past.Shape[1] != d.NumKeyValueHeads) || (past.Shape[3] >= 0 && past.Shape[3] != d.HeadSize))
        {
            throw new ModelConfigException(
                $"{configPath}: past key shape {past} disagrees with model.decoder.num_key_value_heads ({d.NumKeyValueHeads}) or model.decoder.head_size ({d.HeadSize}).");
        }
    }

    public void Dispose()
    {
        Session.Dispose();
        MixedSession?.Dispose();
    }
}
