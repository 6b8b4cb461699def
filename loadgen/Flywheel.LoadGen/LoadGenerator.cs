using System.Globalization;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Metrics;
using Flywheel.LoadGen.Reports;
using Flywheel.LoadGen.Running;
using Flywheel.LoadGen.Workload;
using Spectre.Console;

namespace Flywheel.LoadGen;

/// <summary>The outcome of a run.</summary>
/// <param name="ExitCode">
/// 0 when requests succeeded; 1 when the server was unreachable or more than <see cref="LoadGenOptions.MaxFailureShare"/>
/// of the measured requests failed; 2 when the workload cannot fit the model's context; 130 when stopped by the caller.
/// </param>
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
        var model = options.Models is null ? options.Model ?? probe.FirstModelId : null;
        if (options.Models is { } mix)
        {
            // A name the server does not list would fail every one of its requests with 404: say so before the run.
            var unknown = probe.Models.Count == 0 ? [] : mix.Names.Where(n => probe.Models.All(m => m.Id != n)).ToList();
            if (unknown.Count > 0)
            {
                return new LoadGenResult(2, $"--models: {string.Join(", ", unknown.Select(n => $"'{n}'"))} not served " +
                    $"(GET /v1/models lists {string.Join(", ", probe.Models.Select(m => m.Id))})", null, null);
            }
            log.WriteLine($"models: {mix}");
        }
        else
        {
            log.WriteLine(model is null
                ? "note: no --model given and /v1/models listed none; requests carry no model name"
                : $"model: {model}{(options.Model is null ? " (from /v1/models)" : "")}");
        }
        var clipTokens = options.MaxContextTokens;
        // With several models the smallest context among them bounds the workload (adapters share their base's).
        var contexts = (options.Models?.Names ?? [model!]).Select(n => (Name: n, Length: probe.MaxModelLength(n)))
            .Where(c => c.Length is not null).OrderBy(c => c.Length).ToList();
        if (contexts.Count > 0 && contexts[0] is var (contextModel, contextLength) && contextLength is { } modelContext)
        {
            if (ContextFit.Check(options.Scenario, options.WorkloadName, clipTokens, contextModel, modelContext) is { } misfit)
            {
                if (!options.ClipToContext)
                {
                    return new LoadGenResult(2, misfit, null, null);
                }
                clipTokens = Math.Min(clipTokens ?? modelContext, modelContext);
                log.WriteLine($"warning: {misfit.Split(". Use ")[0]}; --clip-to-context: every request is clipped to fit {modelContext} tokens, so lengths differ from the workload's");
            }
        }
        else
        {
            log.WriteLine("note: /v1/models gives no max_model_len for this model; requests are not checked against its context");
        }

        var startedAt = DateTimeOffset.UtcNow;
        var clock = new RunClock();
        var before = await MetricsScraper.TryScrapeAsync(http, options.Server, ct);
        var tracker = new ProgressTracker(clock);
        var workload = new WorkloadGenerator(options.Scenario, options.Seed, tokenCounter, clipTokens, options.Models);
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
        var failed = phases.Sum(p => p.Summary.FailureCount);
        if (phases.All(p => p.Summary.SuccessCount == 0))
        {
            var reason = measured == 0 ? "no measured requests were sent" : $"all {measured} measured requests failed";
            var errors = string.Join(", ", phases.SelectMany(p => p.Summary.Errors).GroupBy(e => e.Key).Select(g => $"{g.Key}: {g.Sum(e => e.Value)}"));
            return new LoadGenResult(1, (errors.Length > 0 ? $"{reason} ({errors})" : reason) + TopErrors(report), report, directory);
        }
        if (failed > options.MaxFailureShare * measured)
        {
            // A run where a real share of requests failed measured something else than the workload:
            // say so in the exit code, not only in a table row.
            var share = (double)failed / measured;
            return new LoadGenResult(1,
                $"{failed} of {measured} measured requests failed ({share * 100:0.#}%, more than {options.MaxFailureShare * 100:0.#}%)" + TopErrors(report),
                report, directory);
        }
        return new LoadGenResult(0, null, report, directory);
    }

    /// <summary>The most frequent failures, one line each with a count and one of their messages.</summary>
    internal static string TopErrors(RunReport report, int count = 5)
    {
        var groups = report.AllRecords.Where(r => !r.Success && !r.IsWarmup)
            .GroupBy(r => r.ErrorKind ?? "unknown")
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Take(count)
            .Select(g => $"\n  {g.Count(),7} {g.Key}: {g.Select(r => r.ErrorMessage).FirstOrDefault(m => !string.IsNullOrEmpty(m)) ?? "(no message)"}");
        var lines = string.Concat(groups);
        return lines.Length == 0 ? "" : "\ntop errors:" + lines;
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
