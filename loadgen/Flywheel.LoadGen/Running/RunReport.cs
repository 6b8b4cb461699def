using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Metrics;
using Flywheel.LoadGen.Stats;

namespace Flywheel.LoadGen.Running;

/// <summary>One phase's requests and numbers.</summary>
/// <param name="TargetRatePerSecond">Offered rate of an open-loop phase; null for a closed loop.</param>
/// <param name="SloHeld">Whether the SLO attainment was reached; null when no SLO was set.</param>
/// <param name="PerModel">With <c>--models</c>: the same numbers per model name (ordinal order); otherwise null.</param>
public sealed record PhaseReport(
    string Name,
    int Step,
    string LoadDescription,
    double? TargetRatePerSecond,
    int? Concurrency,
    IReadOnlyList<RequestRecord> Records,
    RunSummary Summary,
    bool? SloHeld,
    string? StoppedEarly,
    IReadOnlyDictionary<string, RunSummary>? PerModel = null);

/// <summary>What a sweep found.</summary>
/// <param name="ProbedMaxRequestsPerSecond">Request throughput of the closed-loop probe, the 100% mark.</param>
/// <param name="MaxRateWithinSlo">Highest offered rate at which the SLOs held (null if none, or no SLO).</param>
/// <param name="FirstRateBeyondSlo">Lowest offered rate at which they did not (null if they always held, or no SLO).</param>
public sealed record SweepOutcome(double ProbedMaxRequestsPerSecond, double? MaxRateWithinSlo, double? FirstRateBeyondSlo);

/// <summary>Everything a run produced: the input of every report file.</summary>
public sealed record RunReport
{
    public required LoadGenOptions Options { get; init; }

    /// <summary>The model name sent, if any.</summary>
    public string? Model { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required double WallSeconds { get; init; }

    public required IReadOnlyList<PhaseReport> Phases { get; init; }

    public SweepOutcome? Sweep { get; init; }

    /// <summary>Deltas of the server's /metrics over the run; null when it has none we understand.</summary>
    public ServerMetricsReport? ServerMetrics { get; init; }

    /// <summary>Why <see cref="ServerMetrics"/> is missing, when it is.</summary>
    public string? ServerMetricsNote { get; init; }

    public bool Cancelled { get; init; }

    /// <summary>The phase whose numbers lead the report: the only one, or a sweep's probe.</summary>
    public PhaseReport Main => Phases[0];

    public IEnumerable<RequestRecord> AllRecords => Phases.SelectMany(p => p.Records);
}
