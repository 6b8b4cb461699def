using Flywheel.Adapters;

namespace Flywheel.Cli;

/// <summary>A list of projections on the command line (make-model and import --lora, make-adapter --targets).</summary>
internal static class LoraTargetList
{
    /// <summary>
    /// "all", or comma-separated PEFT projection names (q_proj ... down_proj), deduplicated, in layer order; Phi-3's
    /// fused qkv_proj and gate_up_proj stand for their parts (q, k, v and gate, up), the projections that take their
    /// adapters. An unknown name, or none at all, is a <see cref="UsageException"/> naming <paramref name="option"/>.
    /// </summary>
    public static List<LoraTarget> Parse(string text, string option)
    {
        if (text == "all")
        {
            return [.. LoraTargets.All];
        }

        var targets = new List<LoraTarget>();
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (LoraModule.Find(name) is not { } module)
            {
                throw new UsageException($"{option}: unknown projection '{name}' (expected all or a list of {string.Join(", ", LoraModule.All.Select(m => m.Name))})");
            }

            targets.AddRange(module.Parts.Where(t => !targets.Contains(t)));
        }

        if (targets.Count == 0)
        {
            throw new UsageException($"{option}: name at least one projection, or all");
        }

        targets.Sort();
        return targets;
    }
}
