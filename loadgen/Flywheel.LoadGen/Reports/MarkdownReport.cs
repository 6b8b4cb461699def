using System.Globalization;
using System.Text;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Metrics;
using Flywheel.LoadGen.Running;
using Flywheel.LoadGen.Stats;

namespace Flywheel.LoadGen.Reports;

/// <summary>report.md: the run for a human, with the plots linked beside the numbers.</summary>
internal static class MarkdownReport
{
    public static string Render(RunReport report, IEnumerable<string> plotFiles)
    {
        var o = report.Options;
        var md = new StringBuilder();
        md.Append("# Load test report\n\n");
        Line(md, $"- Server: {o.Server}{(report.Model is null ? "" : $" (model `{report.Model}`)")}" +
                 $"{(o.Models is { } mix ? $" (models `{mix}`)" : "")}");
        Line(md, $"- Workload: {o.Scenario.Describe()}; seed {o.Seed}");
        Line(md, $"- Load: {report.Main.LoadDescription}{(o.Mode == LoadMode.Sweep ? " probe, then open-loop rate steps" : "")}; " +
                 $"{(o.DurationSeconds is { } d ? $"{d:0.###} s" : "no duration limit")}{(o.RequestCount is { } n ? $", {n} requests" : "")}" +
                 $"{(o.WarmupSeconds > 0 ? $", warm-up {o.WarmupSeconds:0.###} s" : "")}{(o.Mode == LoadMode.Sweep ? " per step" : "")}");
        if (o.Slo.IsSet)
        {
            Line(md, $"- SLOs: TTFT <= {Ms(o.Slo.TtftSeconds)} ms, TPOT <= {Ms(o.Slo.ItlSeconds)} ms, attainment {o.Slo.Attainment * 100:0.#}%");
        }
        Line(md, $"- Started {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, wall time {report.WallSeconds:0.0} s{(report.Cancelled ? " (stopped early)" : "")}");
        md.Append('\n');

        foreach (var phase in report.Phases)
        {
            Line(md, $"## {(report.Phases.Count == 1 ? "Results" : $"Phase {phase.Step}: {phase.Name}")}\n");
            md.Append(PhaseTables(phase));
        }
        if (report.Sweep is { } sweep)
        {
            md.Append(SweepTable(report, sweep));
        }
        md.Append(ServerMetricsSection(report));

        md.Append("## Plots\n\n");
        foreach (var file in plotFiles)
        {
            Line(md, $"![{Path.GetFileNameWithoutExtension(file)}]({file})\n");
        }
        return md.ToString();
    }

    /// <summary>The headline and latency tables of one phase (also printed on the console).</summary>
    public static string PhaseTables(PhaseReport phase)
    {
        var s = phase.Summary;
        var md = new StringBuilder();
        Line(md, $"Load: {phase.LoadDescription}{(phase.StoppedEarly is { } why ? $" — **{why}**" : "")}\n");
        md.Append("| metric | value |\n|---|---:|\n");
        Line(md, $"| requests ok / failed (warm-up) | {s.SuccessCount} / {s.FailureCount} ({s.WarmupCount}) |");
        Line(md, $"| measured duration | {s.DurationSeconds:0.00} s |");
        Line(md, $"| request throughput | {s.RequestsPerSecond:0.###} req/s |");
        Line(md, $"| output token throughput | {s.OutputTokensPerSecond:0.#} tok/s |");
        Line(md, $"| total token throughput | {s.TotalTokensPerSecond:0.#} tok/s |");
        Line(md, $"| prompt / output tokens | {s.PromptTokenCount} / {s.OutputTokenCount} |");
        if (s.GoodputRequestsPerSecond is { } goodput)
        {
            Line(md, $"| goodput | {goodput:0.###} req/s ({s.SloAttainment * 100:0.#}% of requests within SLOs) |");
        }
        md.Append("\n| latency (ms) | mean | p50 | p90 | p99 | samples |\n|---|---:|---:|---:|---:|---:|\n");
        LatencyRow(md, "TTFT", s.Ttft);
        LatencyRow(md, "ITL", s.Itl);
        LatencyRow(md, "TPOT", s.Tpot);
        LatencyRow(md, "E2E", s.E2e);
        if (phase.PerModel is { } perModel)
        {
            md.Append("\n| model | ok / failed | output tok/s | TTFT p50 | TTFT p99 | ITL p50 | ITL p99 | E2E p50 |\n");
            md.Append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
            foreach (var (model, m) in perModel)
            {
                Line(md, $"| {model} | {m.SuccessCount} / {m.FailureCount} | {m.OutputTokensPerSecond:0.#} | {Ms(m.Ttft.P50)} | {Ms(m.Ttft.P99)} | " +
                         $"{Ms(m.Itl.P50)} | {Ms(m.Itl.P99)} | {Ms(m.E2e.P50)} |");
            }
        }
        if (s.Errors.Count > 0)
        {
            md.Append("\n| error | count |\n|---|---:|\n");
            foreach (var (kind, count) in s.Errors)
            {
                Line(md, $"| {kind} | {count} |");
            }
        }
        md.Append('\n');
        return md.ToString();
    }

    private static string SweepTable(RunReport report, SweepOutcome sweep)
    {
        var md = new StringBuilder("## Sweep\n\n");
        Line(md, $"Probed maximum: {sweep.ProbedMaxRequestsPerSecond:0.###} req/s.");
        if (report.Options.Slo.IsSet)
        {
            Line(md, $"Highest rate within SLOs: {Rate(sweep.MaxRateWithinSlo)}; SLOs stop holding at: {Rate(sweep.FirstRateBeyondSlo)}.");
        }
        md.Append("\n| step | offered req/s | achieved req/s | output tok/s | TTFT p50 | TTFT p99 | TPOT p50 | TPOT p99 | good | SLOs |\n");
        md.Append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        foreach (var p in report.Phases.Where(p => p.TargetRatePerSecond is not null))
        {
            var s = p.Summary;
            Line(md, $"| {p.Name} | {p.TargetRatePerSecond:0.###} | {s.RequestsPerSecond:0.###} | {s.OutputTokensPerSecond:0.#} | " +
                     $"{Ms(s.Ttft.P50)} | {Ms(s.Ttft.P99)} | {Ms(s.Tpot.P50)} | {Ms(s.Tpot.P99)} | " +
                     $"{(s.SloAttainment is { } a ? (a * 100).ToString("0.#", CultureInfo.InvariantCulture) + "%" : "-")} | {(p.SloHeld is { } h ? (h ? "held" : "missed") : "-")} |");
        }
        md.Append('\n');
        return md.ToString();
    }

    private static string ServerMetricsSection(RunReport report)
    {
        var md = new StringBuilder("## Server metrics (/metrics, after minus before)\n\n");
        if (report.ServerMetrics is not { } m)
        {
            Line(md, $"Not available: {report.ServerMetricsNote}.\n");
            return md.ToString();
        }
        var all = report.AllRecords.ToList();
        var ok = all.Where(r => r.Success).ToList();
        md.Append("| metric | server | loadgen (all requests, warm-up included) |\n|---|---:|---:|\n");
        foreach (var c in m.Counters)
        {
            var own = c.Name.EndsWith("prompt_tokens_total", StringComparison.Ordinal) ? ok.Sum(r => (long)r.EffectivePromptTokens).ToString(CultureInfo.InvariantCulture)
                : c.Name.EndsWith("generation_tokens_total", StringComparison.Ordinal) ? ok.Sum(r => (long)r.OutputTokens).ToString(CultureInfo.InvariantCulture)
                : c.Name.EndsWith("request_success_total", StringComparison.Ordinal) ? ok.Count.ToString(CultureInfo.InvariantCulture)
                : "";
            Line(md, $"| {c.Name} (Δ) | {c.Delta:0.###} | {own} |");
        }
        foreach (var h in m.Histograms)
        {
            Line(md, $"| {h.Name} (mean of {h.CountDelta:0} new) | {h.MeanDelta:0.######} | {OwnMean(h.Name, ok)} |");
        }
        md.Append('\n');
        return md.ToString();
    }

    // The client-side mean of the same quantity, where the server metric has a clear counterpart.
    private static string OwnMean(string name, List<RequestRecord> ok)
    {
        IEnumerable<double>? values =
            name.Contains("time_to_first_token", StringComparison.Ordinal) ? ok.Where(r => r.TtftSeconds is not null).Select(r => r.TtftSeconds!.Value)
            : name.Contains("inter_token_latency", StringComparison.Ordinal) || name.Contains("time_per_output_token", StringComparison.Ordinal) ? ok.SelectMany(r => r.ItlSeconds)
            : name.Contains("e2e_request_latency", StringComparison.Ordinal) ? ok.Select(r => r.E2eSeconds)
            : null;
        var list = values?.ToList();
        return list is { Count: > 0 } ? list.Average().ToString("0.######", CultureInfo.InvariantCulture) : "";
    }

    private static void LatencyRow(StringBuilder md, string name, LatencyStats l) =>
        Line(md, $"| {name} | {Ms(l.Mean)} | {Ms(l.P50)} | {Ms(l.P90)} | {Ms(l.P99)} | {l.Count} |");

    private static string Ms(double? seconds) => NumberText.Milliseconds(seconds * 1000);

    private static string Rate(double? rate) =>
        rate is { } r ? r.ToString("0.###", CultureInfo.InvariantCulture) + " req/s" : "-";

    private static void Line(StringBuilder md, string text) => md.Append(text).Append('\n');
}
