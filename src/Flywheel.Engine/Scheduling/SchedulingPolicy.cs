namespace Flywheel.Scheduling;

/// <summary>Which scheduling policy the engine runs (compared side by side by <c>flywheel bench</c>).</summary>
public enum SchedulingPolicy
{
    /// <summary>
    /// Every step: running decodes first, then prompt chunks (continuing, then new) under the token budget,
    /// so decodes never stall behind a long prompt. Named <c>flywheel</c> on the command line.
    /// </summary>
    ChunkedPrefill,

    /// <summary>Classic continuous batching: while any prompt is pending, whole prompts run and decodes wait; no chunking.</summary>
    PrefillFirst,

    /// <summary>One request at a time, start to finish.</summary>
    Sequential,
}

/// <summary>The command-line and report names of <see cref="SchedulingPolicy"/> values.</summary>
public static class SchedulingPolicies
{
    /// <summary>Parses a policy name: <c>flywheel</c>, <c>prefill-first</c> or <c>sequential</c>.</summary>
    public static SchedulingPolicy Parse(string name) => name switch
    {
        "flywheel" => SchedulingPolicy.ChunkedPrefill,
        "prefill-first" => SchedulingPolicy.PrefillFirst,
        "sequential" => SchedulingPolicy.Sequential,
        _ => throw new ArgumentException($"unknown policy '{name}' (flywheel, prefill-first, sequential)"),
    };

    /// <summary>The name <see cref="Parse"/> reads back.</summary>
    public static string Name(SchedulingPolicy policy) => policy switch
    {
        SchedulingPolicy.ChunkedPrefill => "flywheel",
        SchedulingPolicy.PrefillFirst => "prefill-first",
        _ => "sequential",
    };
}
