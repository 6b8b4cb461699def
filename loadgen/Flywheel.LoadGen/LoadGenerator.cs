using System.Globalization;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Metrics;
using Flywheel.LoadGen.Reports;
using Flywheel.LoadGen.Running;
using Flywheel.LoadGen.Workload;
using Spectre.Console;

namespace Flywheel.LoadGen;

/// <summary>The outcome of a run.</summary>
/// <param name="ExitCode">0 when requests succeeded; 1 when the server was unreachable or every request failed; 130 when stopped by the caller.</param>
/// <param name="Error">What went wrong, for exit codes other than 0.</param>
/// <param name="Report">The numbers; null when no load was sent (unreachable server).</param>
/// <param name="OutputDirectory">Where the report files were written; null when none were.</param>
public sealed record LoadGenResult(int ExitCode, string? Error, RunReport? Report, string? OutputDirectory);

/// <summary>
/// Runs a load test end to end: checks the server answers, scrapes /metrics, offers the load
/// (one phase or a sweep), scrapes again and writes the report files. Every loop is bounded by
/// the options' counts and durations and a hard deadline, so a run always ends by itself.
/// </summary>
public sealed class LoadGenerator(LoadGenOptions options, ITokenCounter? tokenCounter = null, HttpMessageHandler? handler = null)
{
    /// <param name="log">Short progress notes (one line per phase) go here.</param>
    /// <param name="liveConsole">Draws the live progress table when given.</param>
    public async Task<LoadGenResult> RunAsync(TextWriter log, IAnsiConsole? liveConsole, CancellationToken ct)
    {
        using var http = CreateHttpClient();
        var probe = await ServerProbe.ProbeAsync(http, options.Server, TimeSpan.FromSeconds(10), ct);
        if (!probe.Reachable)
        {
            return new LoadGenResult(1, $"server unreachable: {probe.Error}", null, null);
        }
        var model = options.Model ?? probe.FirstModelId;
        log.WriteLine(model is null
            ? "note: no --model given and /v1/models listed none; requests carry no model name"
            : $"model: {model}{(options.Model is null ? " (from /v1/models)" : "")}");

        var startedAt = DateTimeOffset.UtcNow;
        var clock = new RunClock();
        var before = await MetricsScraper.TryScrapeAsync(http, options.Server, ct);
        var tracker = new ProgressTracker(clock);
        var workload = new WorkloadGenerator(options.Scenario, options.Seed, tokenCounter, options.MaxContextTokens);
        var runner = new LoadRunner(new OpenAiClient(http, options.Server, model), workload, clock, tracker);

        // While the live table is drawn, phase notes wait in a buffer: lines written under it would tear it.
        var phaseLog = liveConsole is null ? log : new StringWriter(CultureInfo.InvariantCulture);
        var load = Task.Run(() => RunLoadAsync(runner, phaseLog, ct), CancellationToken.None);
        if (liveConsole is not null)
        {
            await LiveProgress.RunAsync(liveConsole, tracker, load);
            log.Write(phaseLog.ToString());
        }
        var (phases, sweep) = await load;

        var after = before is null ? null : await MetricsScraper.TryScrapeAsync(http, options.Server, CancellationToken.None);
        var serverMetrics = before is not null && after is not null ? ServerMetricsReport.Compare(before, after) : null;
        var report = new RunReport
        {
            Options = options,
            Model = model,
            StartedAt = startedAt,
            WallSeconds = clock.ElapsedSeconds,
            Phases = phases,
            Sweep = sweep,
            ServerMetrics = serverMetrics,
            ServerMetricsNote = serverMetrics is not null ? null
                : before is null ? $"no Prometheus metrics at {options.Server.Metrics}"
                : "the server's /metrics has no flywheel_ or vllm: metrics",
            Cancelled = ct.IsCancellationRequested,
        };

        var directory = options.OutputDirectory ?? Path.Combine("loadgen-results", startedAt.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        ReportWriter.WriteAll(report, directory);

        if (report.Cancelled)
        {
            return new LoadGenResult(130, "stopped before the end; the report covers what ran", report, directory);
        }
        var measured = phases.Sum(p => p.Summary.RequestCount);
        if (phases.All(p => p.Summary.SuccessCount == 0))
        {
            var reason = measured == 0 ? "no measured requests were sent" : $"all {measured} measured requests failed";
            var errors = string.Join(", ", phases.SelectMany(p => p.Summary.Errors).GroupBy(e => e.Key).Select(g => $"{g.Key}: {g.Sum(e => e.Value)}"));
            return new LoadGenResult(1, errors.Length > 0 ? $"{reason} ({errors})" : reason, report, directory);
        }
        return new LoadGenResult(0, null, report, directory);
    }

    private async Task<(List<PhaseReport>, SweepOutcome?)> RunLoadAsync(LoadRunner runner, TextWriter log, CancellationToken ct)
    {
        if (options.Mode == LoadMode.Sweep)
        {
            return await new SweepRunner(runner, options, log).RunAsync(ct);
        }
        var result = await runner.RunAsync(PhaseFactory.Single(options), 0, ct);
        return ([PhaseFactory.Report(result, options.Slo)], null);
    }

    private HttpClient CreateHttpClient()
    {
        var inner = handler ?? new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            MaxConnectionsPerServer = int.MaxValue,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        return new HttpClient(inner, disposeHandler: handler is null) { Timeout = Timeout.InfiniteTimeSpan };
    }
}
