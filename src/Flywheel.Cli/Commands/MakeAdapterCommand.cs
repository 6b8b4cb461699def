using Flywheel.Adapters;
using Flywheel.Models;

namespace Flywheel.Cli;

/// <summary><c>flywheel make-adapter</c>: writes a seeded random LoRA adapter in PEFT's format for a model folder.</summary>
internal static class MakeAdapterCommand
{
    public static readonly CliApp.Command Definition = new(
        "make-adapter",
        "write a random LoRA adapter (PEFT format) for a model folder",
        "usage: flywheel make-adapter --model DIR --out DIR --rank R --targets q_proj,v_proj,... --seed N\n" +
        "                             [--alpha A] [--rslora] [--dtype F32|F16|BF16]\n" +
        "  targets: q_proj k_proj v_proj o_proj gate_proj up_proj down_proj, or 'all'; alpha defaults to 2 * rank.\n" +
        "  On a Phi-3 base the adapter names qkv_proj and gate_up_proj as PEFT does (one A, B's rows per part); name\n" +
        "  them (or all of their parts).\n" +
        "  lora_B is small and random, not zero as PEFT initializes it, so the adapter changes the model's outputs\n" +
        "  (a zero B would make every test of an applied adapter pass without applying it).",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args, "rslora");
        var model = args.Required("model");
        var output = args.Required("out");
        var rank = args.Int("rank", 1, 4096) ?? throw new UsageException("missing required option --rank");
        var targets = LoraTargetList.Parse(args.Required("targets"), "--targets");
        var seed = args.Int("seed") ?? throw new UsageException("missing required option --seed");
        var alpha = args.Double("alpha", 1e-6, 1e6) ?? 2.0 * rank;
        var rsLora = args.Flag("rslora");
        var dtype = args.String("dtype") ?? "F32";
        if (dtype is not ("F32" or "F16" or "BF16"))
        {
            throw new UsageException($"unknown dtype '{dtype}' (expected F32, F16 or BF16)");
        }

        args.EnsureAllUsed();
        AdapterBaseShape shape;
        try
        {
            shape = AdapterBaseShape.FromModelFolder(model);
        }
        catch (ModelConfigException e)
        {
            throw new CliException(e.Message, e);
        }

        // On a base with fused projections (Phi-3) the adapter names qkv_proj and gate_up_proj, as PEFT writes it.
        IReadOnlyList<LoraModule> modules;
        try
        {
            modules = shape.ModulesFor(targets);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"--targets: {e.Message}");
        }

        var config = new PeftAdapterConfig
        {
            Rank = rank,
            Alpha = alpha,
            UseRsLora = rsLora,
            Targets = targets,
            Modules = modules,
            BaseModelNameOrPath = Path.GetFullPath(model),
        };
        var weights = PeftAdapterWriter.RandomWeights(shape, config, seed);
        PeftAdapterWriter.Write(output, config, weights, dtype);
        input.Out.WriteLine($"wrote {Path.GetFullPath(output)}: LoRA r {rank}, alpha {alpha}, scale {config.Scale:G4}{(rsLora ? " (rsLoRA)" : "")}, " +
            $"{string.Join(",", modules.Select(m => m.Name))} in {shape.LayerCount} layers, {dtype}, seed {seed}");
        return 0;
    }
}
