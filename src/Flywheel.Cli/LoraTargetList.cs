using Flywheel.Adapters;

namespace Flywheel.Cli;

/// <summary>A list of projections on the command line (make-model --lora, make-adapter --targets).</summary>
internal static class LoraTargetList
{
    /// <summary>
    /// "all", or comma-separated PEFT projection names (q_proj ... down_proj), deduplicated, in layer order.
    /// An unknown name, or none at all, is a <see cref="UsageException"/> naming <paramref name="option"/>.
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
            if (!LoraTargets.TryParse(name, out var target))
            {
                throw new UsageException($"{option}: unknown projection '{name}' (expected all or a list of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)");
            }

            if (!targets.Contains(target))
            {
                targets.Add(target);
            }
        }

        if (targets.Count == 0)
        {
            throw new UsageException($"{option}: name at least one projection, or all");
        }

        targets.Sort();
        return targets;
    }
}
