using Flywheel.LoadGen.Arrival;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Stats;

namespace Flywheel.LoadGen.Running;

/// <summary>Turns options into the phases of a run.</summary>
internal static class PhaseFactory
{
    public static PhasePlan Single(LoadGenOptions o) => o.Mode == LoadMode.Rate
        ? Open(o, "run", 0, o.RatePerSecond)
        : Closed(o, "run", 0, o.Concurrency);

    public static PhasePlan Closed(LoadGenOptions o, string name, int step, int concurrency) =>
        new(name, step, null, concurrency, null, o.WarmupSeconds, IssueSeconds(o), o.RequestCount, RequestTimeout(o));

    public static PhasePlan Open(LoadGenOptions o, string name, int step, double rate) =>
        new(name, step, ArrivalProcess.Create(o.Arrival, rate, o.Burstiness, unchecked(o.Seed * 31 + step)),
            0, o.MaxConcurrency, o.WarmupSeconds, IssueSeconds(o), o.RequestCount, RequestTimeout(o));

    public static PhaseReport Report(PhaseResult result, SloOptions slo)
    {
        var summary = RunSummary.Compute(result.Records, slo);
        bool? held = summary.SloAttainment is { } attained ? attained >= slo.Attainment : null;
        return new PhaseReport(
            result.Plan.Name,
            result.Plan.Step,
            result.Plan.Describe(),
            result.Plan.Arrival?.RatePerSecond,
            result.Plan.Arrival is null ? result.Plan.Concurrency : null,
            result.Records,
            summary,
            held,
            result.StoppedEarly,
            PerModel(result.Records, slo));
    }

    // Records carry a model name only in a --models run; each model's numbers over its own requests (its
    // throughput divides by its own window, so the per-model figures add up to about the whole's).
    private static SortedDictionary<string, RunSummary>? PerModel(IReadOnlyList<RequestRecord> records, SloOptions slo) =>
        records.Any(r => r.Model is not null)
            ? new SortedDictionary<string, RunSummary>(
                records.GroupBy(r => r.Model ?? "").ToDictionary(g => g.Key, g => RunSummary.Compute(g.ToList(), slo)),
                StringComparer.Ordinal)
            : null;

    private static double IssueSeconds(LoadGenOptions o) => o.DurationSeconds ?? o.MaxDurationSeconds;

    private static TimeSpan RequestTimeout(LoadGenOptions o) => TimeSpan.FromSeconds(o.RequestTimeoutSeconds);
}
