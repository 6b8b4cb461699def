namespace Flywheel.Structured;

/// <summary>
/// Totals over a suite run. Times are in microseconds (masks: every mask computed, cold and warm
/// cache alike; compile: the median over schemas that compiled). Percentiles are nearest-rank.
/// </summary>
public sealed record GrammarSuiteSummary
{
    public int SchemaCount { get; init; }

    public int CompiledCount { get; init; }

    public int UnsupportedCount { get; init; }

    public int ErrorCount { get; init; }

    /// <summary>Compiled schemas whose every instance was classified as the suite says.</summary>
    public int PassingCount { get; init; }

    public int ValidCount { get; init; }

    public int InvalidCount { get; init; }

    /// <summary>Valid instances the grammar rejected (the narrowings, or a tokenizer split the grammar does not allow).</summary>
    public int ValidRejectedCount { get; init; }

    /// <summary>Invalid instances the grammar accepted: each one is a soundness bug.</summary>
    public int InvalidAcceptedCount { get; init; }

    public int MaskCount { get; init; }

    public double MaskMeanMicroseconds { get; init; }

    public double MaskP50Microseconds { get; init; }

    public double MaskP99Microseconds { get; init; }

    public double CompileMedianMicroseconds { get; init; }

    /// <summary>Masks of the later passes over the same grammars (warm mask cache); zero without them.</summary>
    public int WarmMaskCount { get; init; }

    public double WarmMaskMeanMicroseconds { get; init; }

    public double WarmMaskP50Microseconds { get; init; }

    public double WarmMaskP99Microseconds { get; init; }

    /// <summary>Adds up <paramref name="results"/>, with the mask times of the same run.</summary>
    public static GrammarSuiteSummary From(
        IReadOnlyCollection<GrammarSuiteResult> results, IReadOnlyList<double> maskMicroseconds, IReadOnlyList<double>? warmMaskMicroseconds = null)
    {
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(maskMicroseconds);
        var warm = (warmMaskMicroseconds ?? []).Order().ToArray();
        var tests = results.SelectMany(r => r.Tests).ToList();
        var masks = maskMicroseconds.Order().ToArray();
        var compiles = results.Where(r => r.Compiled)
            .Select(r => r.CompileMicroseconds).Order().ToArray();
        return new GrammarSuiteSummary
        {
            SchemaCount = results.Count,
            CompiledCount = compiles.Length,
            UnsupportedCount = results.Count(r => r.Status == GrammarSuiteStatus.Unsupported),
            ErrorCount = results.Count(r => r.Status == GrammarSuiteStatus.Error),
            PassingCount = results.Count(r => r.Passed),
            ValidCount = tests.Count(t => t.Expected),
            InvalidCount = tests.Count(t => !t.Expected),
            ValidRejectedCount = tests.Count(t => t.Expected && !t.Accepted),
            InvalidAcceptedCount = tests.Count(t => !t.Expected && t.Accepted),
            MaskCount = masks.Length,
            MaskMeanMicroseconds = masks.Length == 0 ? 0 : masks.Average(),
            MaskP50Microseconds = Percentile(masks, 0.50),
            MaskP99Microseconds = Percentile(masks, 0.99),
            CompileMedianMicroseconds = Percentile(compiles, 0.50),
            WarmMaskCount = warm.Length,
            WarmMaskMeanMicroseconds = warm.Length == 0 ? 0 : warm.Average(),
            WarmMaskP50Microseconds = Percentile(warm, 0.50),
            WarmMaskP99Microseconds = Percentile(warm, 0.99),
        };
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
}
