using Flywheel.LoadGen.Client;

namespace Flywheel.LoadGen.Stats;

/// <summary>
/// The headline numbers of one phase, over its measured (non-warm-up) requests. The measurement
/// window runs from the first measured request's send to the last one's end; throughputs divide
/// by it. Latencies count successful requests only; ITL pools every gap of every request.
/// </summary>
public sealed record RunSummary
{
    public required int RequestCount { get; init; }
    public required int SuccessCount { get; init; }
    public int FailureCount => RequestCount - SuccessCount;
    public required int WarmupCount { get; init; }
    public required double DurationSeconds { get; init; }
    public required double RequestsPerSecond { get; init; }
    public required double OutputTokensPerSecond { get; init; }

    /// <summary>(Prompt + output tokens) per second; prompt tokens from usage, else as planned.</summary>
    public required double TotalTokensPerSecond { get; init; }
    public required long PromptTokenCount { get; init; }
    public required long OutputTokenCount { get; init; }
    public required LatencyStats Ttft { get; init; }
    public required LatencyStats Itl { get; init; }
    public required LatencyStats Tpot { get; init; }
    public required LatencyStats E2e { get; init; }

    /// <summary>Good requests per second under the SLOs; null when no SLO was given.</summary>
    public double? GoodputRequestsPerSecond { get; init; }

    /// <summary>Good requests over all measured requests (failures count as not good); null when no SLO was given.</summary>
    public double? SloAttainment { get; init; }

    /// <summary>Failed requests by kind ("http_500", "timeout", ...), sorted by kind.</summary>
    public required IReadOnlyDictionary<string, int> Errors { get; init; }

    public static RunSummary Compute(IReadOnlyCollection<RequestRecord> records, SloOptions slo)
    {
        var measured = records.Where(r => !r.IsWarmup).ToList();
        var ok = measured.Where(r => r.Success).ToList();
        var duration = measured.Count == 0 ? 0 : measured.Max(r => r.EndSeconds) - measured.Min(r => r.StartSeconds);
        double PerSecond(double amount) => duration > 0 ? amount / duration : 0;

        var promptTokens = ok.Sum(r => (long)r.EffectivePromptTokens);
        var outputTokens = ok.Sum(r => (long)r.OutputTokens);
        int? goodCount = slo.IsSet ? ok.Count(r => IsGood(r, slo)) : null;
        return new RunSummary
        {
            RequestCount = measured.Count,
            SuccessCount = ok.Count,
            WarmupCount = records.Count - measured.Count,
            DurationSeconds = duration,
            RequestsPerSecond = PerSecond(ok.Count),
            OutputTokensPerSecond = PerSecond(outputTokens),
            TotalTokensPerSecond = PerSecond(promptTokens + outputTokens),
            PromptTokenCount = promptTokens,
            OutputTokenCount = outputTokens,
            Ttft = LatencyStats.From(ok.Where(r => r.TtftSeconds is not null).Select(r => r.TtftSeconds!.Value)),
            Itl = LatencyStats.From(ok.SelectMany(r => r.ItlSeconds)),
            Tpot = LatencyStats.From(ok.Where(r => r.TpotSeconds is not null).Select(r => r.TpotSeconds!.Value)),
            E2e = LatencyStats.From(ok.Select(r => r.E2eSeconds)),
            GoodputRequestsPerSecond = goodCount is { } g ? PerSecond(g) : null,
            SloAttainment = goodCount is { } good && measured.Count > 0 ? (double)good / measured.Count : null,
            Errors = new SortedDictionary<string, int>(
                measured.Where(r => !r.Success).GroupBy(r => r.ErrorKind ?? "unknown").ToDictionary(g => g.Key, g => g.Count()),
                StringComparer.Ordinal),
        };
    }

    /// <summary>Whether a successful request meets every SLO that is set.</summary>
    public static bool IsGood(RequestRecord record, SloOptions slo) =>
        record.Success
        && (slo.TtftSeconds is not { } ttft || record.TtftSeconds is { } t && t <= ttft)
        && (slo.ItlSeconds is not { } itl || (record.TpotSeconds ?? 0) <= itl);
}
