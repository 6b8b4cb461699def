using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Running;
using Flywheel.LoadGen.Stats;

namespace Flywheel.LoadGen.Reports;

/// <summary>The SVG plots of a run, by file name.</summary>
internal static class Plots
{
    public const string TokensPerSecondFile = "tokens_per_second.svg";
    public const string TtftFile = "ttft.svg";
    public const string ItlFile = "itl.svg";
    public const string SweepTtftFile = "sweep_ttft.svg";
    public const string SweepTpotFile = "sweep_tpot.svg";

    public static IEnumerable<(string File, string Svg)> Render(RunReport report)
    {
        var measured = report.AllRecords.Where(r => r.Success && !r.IsWarmup).ToList();
        yield return (TokensPerSecondFile, TokensOverTime(report.AllRecords.Where(r => r.Success).ToList()));
        var ttft = measured.Where(r => r.TtftSeconds is not null).Select(r => r.TtftSeconds!.Value * 1000).ToArray();
        yield return (TtftFile, Histogram("Time to first token", "TTFT (ms)", ttft));
        var itl = measured.SelectMany(r => r.ItlSeconds).Select(s => s * 1000).ToArray();
        yield return (ItlFile, Histogram("Inter-token latency (every gap between content chunks)", "ITL (ms)", itl));
        if (report.Sweep is not null)
        {
            var steps = report.Phases.Where(p => p.TargetRatePerSecond is not null).ToList();
            yield return (SweepTtftFile, LatencyVsRate(steps, "TTFT vs offered rate", "TTFT (ms)", s => s.Ttft));
            yield return (SweepTpotFile, LatencyVsRate(steps, "TPOT vs offered rate", "TPOT (ms)", s => s.Tpot));
        }
    }

    /// <summary>
    /// Output tokens per second over the run, binned by when chunks arrived. A chunk's time is its
    /// request's start + TTFT + the gaps so far; each chunk weighs output tokens / chunks, so servers
    /// that pack several tokens into a chunk are still counted in tokens.
    /// </summary>
    internal static string TokensOverTime(IReadOnlyList<RequestRecord> records)
    {
        var chart = new SvgChart("Output tokens per second", "time since start (s)", "tokens/s");
        var events = new List<(double Time, double Tokens)>();
        foreach (var r in records.Where(r => r.TtftSeconds is not null && r.ContentChunkCount > 0))
        {
            var weight = (double)r.OutputTokens / r.ContentChunkCount;
            var t = r.StartSeconds + r.TtftSeconds!.Value;
            events.Add((t, weight));
            foreach (var gap in r.ItlSeconds)
            {
                t += gap;
                events.Add((t, weight));
            }
        }
        if (events.Count == 0)
        {
            return chart.Render();
        }

        var start = events.Min(e => e.Time);
        var span = Math.Max(events.Max(e => e.Time) - start, 1e-3);
        var binSeconds = Math.Max(span / 60, 0.05);
        var bins = new double[(int)Math.Floor(span / binSeconds) + 1];
        foreach (var (time, tokens) in events)
        {
            bins[(int)((time - start) / binSeconds)] += tokens;
        }
        return chart.AddLine("output tokens/s", bins.Select((b, i) => (start + (i + 0.5) * binSeconds, b / binSeconds))).Render();
    }

    /// <summary>A histogram with 30 bins from the 0.5th to the 99.5th percentile (the rare tails fold into the end bins), with p50/p99 markers.</summary>
    internal static string Histogram(string title, string xLabel, double[] values)
    {
        var chart = new SvgChart(title, xLabel, "count");
        if (values.Length == 0)
        {
            return chart.Render();
        }
        Array.Sort(values);
        var low = Percentiles.OfSorted(values, 0.5);
        var high = Math.Max(Percentiles.OfSorted(values, 99.5), low + 1e-6);
        const int binCount = 30;
        var width = (high - low) / binCount;
        var counts = new int[binCount];
        foreach (var v in values)
        {
            counts[Math.Clamp((int)((v - low) / width), 0, binCount - 1)]++;
        }
        chart.AddBars(counts.Select((c, i) => (low + i * width, low + (i + 1) * width, (double)c)));
        chart.AddMarker(Percentiles.OfSorted(values, 50), $"p50 {NumberText.Milliseconds(Percentiles.OfSorted(values, 50))}");
        chart.AddMarker(Math.Min(Percentiles.OfSorted(values, 99), high), $"p99 {NumberText.Milliseconds(Percentiles.OfSorted(values, 99))}");
        return chart.Render();
    }

    private static string LatencyVsRate(IReadOnlyList<PhaseReport> steps, string title, string yLabel, Func<RunSummary, LatencyStats> pick)
    {
        var chart = new SvgChart(title, "offered rate (req/s)", yLabel);
        chart.AddLine("p50", steps.Select(s => (s.TargetRatePerSecond!.Value, pick(s.Summary).P50 * 1000)), markers: true);
        chart.AddLine("p90", steps.Select(s => (s.TargetRatePerSecond!.Value, pick(s.Summary).P90 * 1000)), markers: true);
        chart.AddLine("p99", steps.Select(s => (s.TargetRatePerSecond!.Value, pick(s.Summary).P99 * 1000)), markers: true);
        return chart.Render();
    }
}
