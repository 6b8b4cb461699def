using System.Globalization;

namespace Flywheel.LoadGen.Workload;

/// <summary>
/// Whether a workload's requests fit a model's context (prompt + chat template + output). Checked
/// before any load is sent: a workload that cannot fit would otherwise turn into a run of 400
/// <c>context_length_exceeded</c> answers that measures nothing.
/// </summary>
internal static class ContextFit
{
    /// <summary>Prompt + output tokens a request may plan in a context of <paramref name="contextTokens"/> (the rest is the template reserve).</summary>
    public static int Room(int contextTokens) => Math.Max(2, contextTokens - WorkloadGenerator.TemplateReserve(contextTokens));

    /// <summary>The most prompt + output tokens one request of <paramref name="scenario"/> can plan, after clipping to <paramref name="clipTokens"/> when set.</summary>
    public static int LargestRequestTokens(Scenario scenario, int? clipTokens)
    {
        var total = (long)scenario.PromptTokens.Max + scenario.OutputTokens.Max;
        if (clipTokens is { } clip)
        {
            total = Math.Min(total, Room(clip));
        }
        return (int)Math.Min(total, int.MaxValue);
    }

    /// <summary>Null when every request fits <paramref name="modelContextTokens"/>; otherwise why not, and what to do.</summary>
    public static string? Check(Scenario scenario, string workloadName, int? clipTokens, string? model, int modelContextTokens)
    {
        var largest = LargestRequestTokens(scenario, clipTokens);
        var room = Room(modelContextTokens);
        if (largest <= room)
        {
            return null;
        }
        var name = string.IsNullOrEmpty(workloadName) ? scenario.Name : workloadName;
        var sized = clipTokens is { } c ? $" (sized for a {N(c)}-token context)" : "";
        return $"the workload '{name}'{sized} does not fit model '{model ?? "?"}': its max_model_len is {N(modelContextTokens)} tokens, " +
               $"and a request can reach {N(largest)} tokens (prompt up to {N(scenario.PromptTokens.Max)}, output up to {N(scenario.OutputTokens.Max)}) " +
               $"plus {N(modelContextTokens - room)} kept for the chat template. " +
               $"Use --max-context {modelContextTokens} to scale the mix to the model, or --clip-to-context to cut each request to fit.";
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
