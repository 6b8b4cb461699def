using Flywheel.LoadGen.Arrival;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Stats;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen;

/// <summary>How load is offered.</summary>
public enum LoadMode
{
    /// <summary>Open loop: requests arrive at <see cref="LoadGenOptions.RatePerSecond"/> whatever the server does.</summary>
    Rate,

    /// <summary>Closed loop: <see cref="LoadGenOptions.Concurrency"/> users, each sending its next request when the last ends.</summary>
    Concurrency,

    /// <summary>A closed-loop probe for the maximum rate, then open-loop steps at fractions of it.</summary>
    Sweep,
}

/// <summary>Everything a run needs; the command line fills it, code can build one directly.</summary>
public sealed record LoadGenOptions
{
    public required ServerAddress Server { get; init; }

    /// <summary>Model name to send; null asks the server's /v1/models and sends none if it lists nothing.</summary>
    public string? Model { get; init; }

    /// <summary>Spreads requests over several models (e.g. LoRA adapters of one base); replaces <see cref="Model"/>.</summary>
    public ModelMix? Models { get; init; }

    public required Scenario Scenario { get; init; }

    /// <summary>When set, each request's prompt + output is clipped to fit this context (built-in mixes are also scaled to it).</summary>
    public int? MaxContextTokens { get; init; }

    /// <summary>
    /// When the server's <c>max_model_len</c> is smaller than the workload needs, clip every request to it
    /// (with a warning) instead of refusing to run.
    /// </summary>
    public bool ClipToContext { get; init; }

    /// <summary>Share of measured requests that may fail before the run counts as failed (exit code 1).</summary>
    public double MaxFailureShare { get; init; } = 0.01;

    public LoadMode Mode { get; init; } = LoadMode.Concurrency;

    /// <summary>Open-loop mean rate (requests/s); may be +infinity (everything at once; needs <see cref="RequestCount"/>).</summary>
    public double RatePerSecond { get; init; } = double.PositiveInfinity;

    public ArrivalKind Arrival { get; init; } = ArrivalKind.Poisson;

    /// <summary>Gamma shape for <see cref="ArrivalKind.Gamma"/> (1 = Poisson).</summary>
    public double Burstiness { get; init; } = 1.0;

    /// <summary>Closed-loop users.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Cap on requests in flight in open-loop mode (arrivals wait for a free slot); null for none.</summary>
    public int? MaxConcurrency { get; init; }

    /// <summary>Seconds to issue measured requests (per sweep step); null means until <see cref="RequestCount"/> or <see cref="MaxDurationSeconds"/>.</summary>
    public double? DurationSeconds { get; init; }

    /// <summary>Measured requests to issue (per sweep step); null means until the duration ends.</summary>
    public int? RequestCount { get; init; }

    /// <summary>Seconds of load before measuring; requests sent then are recorded but left out of the statistics.</summary>
    public double WarmupSeconds { get; init; }

    public int Seed { get; init; }

    public SloOptions Slo { get; init; } = SloOptions.None;

    /// <summary>A request still unfinished after this long is cut and counted as "timeout".</summary>
    public double RequestTimeoutSeconds { get; init; } = 300;

    /// <summary>Hard cap on the issuing time of a phase when no duration is given.</summary>
    public double MaxDurationSeconds { get; init; } = 600;

    /// <summary>Sweep steps as fractions of the probed maximum request rate.</summary>
    public IReadOnlyList<double> SweepFractions { get; init; } = DefaultSweepFractions;

    public static IReadOnlyList<double> DefaultSweepFractions { get; } = [0.25, 0.5, 0.75, 0.9, 1.0];

    /// <summary>Closed-loop users of the sweep's maximum-throughput probe.</summary>
    public int SweepProbeConcurrency { get; init; } = 32;

    /// <summary>Folder for summary.json, requests.csv, report.md and plots; null uses loadgen-results/&lt;time&gt;.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>Live progress display (only drawn when stdout is a terminal).</summary>
    public bool ShowProgress { get; init; } = true;

    /// <summary>Name of the mix or scenario file, for reports.</summary>
    public string WorkloadName { get; init; } = "";
}
