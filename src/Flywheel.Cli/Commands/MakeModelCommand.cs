using Flywheel.Models.Building;
using Flywheel.Tokenization;

namespace Flywheel.Cli;

/// <summary><c>flywheel make-model</c>: writes a model folder with seeded dummy weights.</summary>
internal static class MakeModelCommand
{
    public static readonly CliApp.Command Definition = new(
        "make-model",
        "write an ORT GenAI model folder (LLaMA architecture, dummy weights)",
        "usage: flywheel make-model --preset tiny|bench|small|medium --out DIR [--tokenizer FILE] [--seed N]\n" +
        "                           [--precision fp32|fp16|int4] [--block-size 32] [--accuracy-level 4]\n" +
        "                           [--fp16-io] (float16 KV cache and logits over fp32 weights, the CUDA export's interface)\n" +
        "                           [--external-data] (weights in model.onnx.data; automatic above 256 MiB of weights)\n" +
        "                           [--lora q_proj,k_proj,...|all] (the graph takes LoRA adapters on these projections)\n" +
        "                           [--layers N --hidden N --heads N --kv-heads N --intermediate N --context N --vocab N]",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args, "fp16-io", "external-data");
        var preset = args.String("preset") ?? "tiny";
        var output = args.Required("out");
        var tokenizer = args.String("tokenizer");
        ModelBuilderOptions options;
        try
        {
            options = ModelBuilderOptions.Preset(preset);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        options = options with
        {
            Seed = args.Int("seed") ?? options.Seed,
            LayerCount = args.Int("layers", 1, 256) ?? options.LayerCount,
            HiddenSize = args.Int("hidden", 2, 65536) ?? options.HiddenSize,
            HeadCount = args.Int("heads", 1, 1024) ?? options.HeadCount,
            KvHeadCount = args.Int("kv-heads", 1, 1024) ?? options.KvHeadCount,
            IntermediateSize = args.Int("intermediate", 1, 262144) ?? options.IntermediateSize,
            ContextLength = args.Int("context", 2, 1 << 20) ?? options.ContextLength,
            VocabSize = args.Int("vocab", 262, 1 << 20) ?? options.VocabSize,
            Precision = ParsePrecision(args.String("precision")),
            BlockSize = args.Int("block-size", 16, 4096) ?? options.BlockSize,
            AccuracyLevel = args.Int("accuracy-level", 0, 4) ?? options.AccuracyLevel,
            Fp16Io = args.Flag("fp16-io"),
            ExternalData = args.Flag("external-data") ? true : null,
            LoraTargets = args.String("lora") is { } lora ? LoraTargetList.Parse(lora, "--lora") : [],
        };
        args.EnsureAllUsed();
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        if (tokenizer is not null && !File.Exists(tokenizer))
        {
            throw new CliException($"tokenizer file not found: {tokenizer}");
        }

        var used = ModelFolderWriter.Write(output, options, tokenizer, SyntheticTokenizer.Write);
        var parameters = ParameterCount(used);
        input.Out.WriteLine($"wrote {Path.GetFullPath(output)}: llama, {used.LayerCount} layers, hidden {used.HiddenSize}, heads {used.HeadCount}/{used.KvHeadCount} kv, " +
            $"vocab {used.VocabSize}, context {used.ContextLength}, {parameters / 1e6:F1}M parameters, seed {used.Seed}, {PrecisionText(used)}" +
            (used.WritesExternalData ? $", weights in {ModelFolderWriter.ExternalDataFileName}" : ""));
        return 0;
    }

    internal static ModelPrecision ParsePrecision(string? text) => text switch
    {
        null or "fp32" => ModelPrecision.Fp32,
        "fp16" => ModelPrecision.Fp16,
        "int4" => ModelPrecision.Int4,
        _ => throw new UsageException($"unknown precision '{text}' (expected fp32, fp16 or int4)"),
    };

    internal static string PrecisionText(ModelBuilderOptions o) =>
        o.Precision switch
        {
            ModelPrecision.Int4 => $"int4 (MatMulNBits, block {o.BlockSize}, accuracy level {o.AccuracyLevel})" + (o.Fp16Io ? ", float16 KV cache and logits" : ""),
            ModelPrecision.Fp16 => "fp16 (float16 weights, KV cache and logits)",
            _ => "fp32" + (o.Fp16Io ? ", float16 KV cache and logits" : ""),
        }
        + (o.LoraTargets.Count > 0 ? ", LoRA inputs on " + string.Join(',', o.LoraTargets.Select(Adapters.LoraTargets.PeftName)) : "");

    internal static long ParameterCount(ModelBuilderOptions o)
    {
        long h = o.HiddenSize, kv = o.KvHeadCount * o.HeadSize, i = o.IntermediateSize, v = o.VocabSize;
        var perLayer = (2 * h * h) + (2 * h * kv) + (3 * h * i) + (2 * h);
        return (o.LayerCount * perLayer) + (2 * v * h) + h;
    }
}
