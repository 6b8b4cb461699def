using System.Diagnostics;
using Flywheel.Models;
using Flywheel.Models.Import;

namespace Flywheel.Cli;

/// <summary><c>flywheel import</c>: a Hugging Face checkpoint folder into an ORT GenAI model folder, in C#.</summary>
internal static class ImportCommand
{
    public static readonly CliApp.Command Definition = new(
        "import",
        "turn a Hugging Face checkpoint (config.json + safetensors) into an ORT GenAI model folder",
        "usage: flywheel import --from DIR --out DIR [--precision fp32|fp16|int4] [--block-size 32] [--accuracy-level 4] [--external-data]\n" +
        "                       [--lora q_proj,k_proj,...|all] (the graph takes LoRA adapters on these projections)\n" +
        $"       architectures: {string.Join(", ", HfCheckpoint.Architectures.Keys)}",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args, "external-data");
        var from = args.Required("from");
        var output = args.Required("out");
        var precision = MakeModelCommand.ParsePrecision(args.String("precision"));
        var blockSize = args.Int("block-size", 16, 4096) ?? 32;
        var accuracyLevel = args.Int("accuracy-level", 0, 4) ?? 4;
        bool? externalData = args.Flag("external-data") ? true : null;
        var loraTargets = args.String("lora") is { } lora ? LoraTargetList.Parse(lora, "--lora") : [];
        args.EnsureAllUsed();
        if (!Directory.Exists(from))
        {
            throw new CliException($"checkpoint folder not found: {from}");
        }

        var clock = Stopwatch.StartNew();
        HfCheckpoint checkpoint;
        try
        {
            checkpoint = HfImporter.Import(from, output, precision, blockSize, accuracyLevel, externalData, loraTargets);
        }
        catch (ModelConfigException e)
        {
            throw new CliException(e.Message, e);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        var o = checkpoint.Options with { Precision = precision, BlockSize = blockSize, AccuracyLevel = accuracyLevel, LoraTargets = loraTargets };
        input.Out.WriteLine($"wrote {Path.GetFullPath(output)} from {checkpoint.Architecture}: {o.LayerCount} layers, hidden {o.HiddenSize}, heads {o.HeadCount}/{o.KvHeadCount} kv, " +
            $"vocab {o.VocabSize}, context {o.ContextLength}, rope theta {o.RopeTheta}, eos [{string.Join(", ", checkpoint.EosTokenIds)}], {MakeModelCommand.PrecisionText(o)} in {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
