namespace Flywheel.LoadGen.Metrics;

/// <summary>How much a server counter grew during the run.</summary>
public sealed record CounterDelta(string Name, double Delta);

/// <summary>A server histogram over the run: observations added and their mean (Δsum / Δcount).</summary>
public sealed record HistogramDelta(string Name, double CountDelta, double MeanDelta);

/// <summary>
/// The server's own view of the run, from /metrics scraped before and after: the token and request
/// counters and the mean of every histogram that gained observations. Understands Flywheel's
/// <c>flywheel_</c> names and vLLM's <c>vllm:</c> names (Flywheel mirrors vLLM's set).
/// </summary>
public sealed record ServerMetricsReport(string Prefix, IReadOnlyList<CounterDelta> Counters, IReadOnlyList<HistogramDelta> Histograms)
{
    private static readonly string[] Prefixes = ["flywheel_", "vllm:"];
    private static readonly string[] CounterNames = ["prompt_tokens_total", "generation_tokens_total", "request_success_total"];

    /// <summary>Compares two scrapes; null when neither knows any metric with a recognised prefix.</summary>
    public static ServerMetricsReport? Compare(PrometheusSnapshot before, PrometheusSnapshot after)
    {
        var prefix = Prefixes.FirstOrDefault(p => after.Totals.Keys.Any(k => k.StartsWith(p, StringComparison.Ordinal)));
        if (prefix is null)
        {
            return null;
        }

        var counters = CounterNames
            .Select(n => prefix + n)
            .Where(n => after.Get(n) is not null)
            .Select(n => new CounterDelta(n, after.Get(n)!.Value - (before.Get(n) ?? 0)))
            .ToList();

        var histograms = new List<HistogramDelta>();
        foreach (var countName in after.Totals.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && k.EndsWith("_count", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var baseName = countName[..^"_count".Length];
            if (after.Get(baseName + "_sum") is not { } sumAfter)
            {
                continue;
            }
            var countDelta = after.Get(countName)!.Value - (before.Get(countName) ?? 0);
            var sumDelta = sumAfter - (before.Get(baseName + "_sum") ?? 0);
            if (countDelta > 0)
            {
                histograms.Add(new HistogramDelta(baseName, countDelta, sumDelta / countDelta));
            }
        }
        return new ServerMetricsReport(prefix, counters, histograms);
    }
}
