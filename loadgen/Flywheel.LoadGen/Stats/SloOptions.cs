namespace Flywheel.LoadGen.Stats;

/// <summary>
/// Service-level objectives for goodput. A request is good when it succeeded, its TTFT is at most
/// <see cref="TtftSeconds"/> and its mean inter-token latency (TPOT: the time per output token after the
/// first) is at most <see cref="ItlSeconds"/>; an objective left null always holds. Using the mean
/// rather than the worst gap follows DistServe and vLLM's goodput: one slow step does not spoil a request.
/// </summary>
/// <param name="Attainment">Share of requests (0..1] that must be good for the SLOs to "hold" at a rate (sweep).</param>
public sealed record SloOptions(double? TtftSeconds, double? ItlSeconds, double Attainment = 0.9)
{
    public static SloOptions None { get; } = new(null, null);

    public bool IsSet => TtftSeconds is not null || ItlSeconds is not null;
}
