namespace Flywheel.LoadGen.Running;

/// <summary>
/// A rate sweep in the manner of GuideLLM: a closed-loop probe finds the server's maximum request
/// throughput, then open-loop steps offer fixed fractions of it. With SLOs set, each step says
/// whether they held, and the outcome names the highest rate within them and the first beyond.
/// </summary>
internal sealed class SweepRunner(LoadRunner runner, LoadGenOptions options, TextWriter log)
{
    public async Task<(List<PhaseReport> Phases, SweepOutcome? Outcome)> RunAsync(CancellationToken ct)
    {
        var phases = new List<PhaseReport>();
        var probe = await runner.RunAsync(PhaseFactory.Closed(options, "probe", 0, options.SweepProbeConcurrency), 0, ct);
        var probeReport = PhaseFactory.Report(probe, options.Slo);
        phases.Add(probeReport);
        var maxRate = probeReport.Summary.RequestsPerSecond;
        log.WriteLine($"sweep probe (concurrency {options.SweepProbeConcurrency}): {maxRate:0.###} req/s");
        if (maxRate <= 0 || ct.IsCancellationRequested || probe.StoppedEarly is not null)
        {
            log.WriteLine("sweep: the probe completed no requests; no rate steps run");
            return (phases, null);
        }

        var nextIndex = probe.NextIndex;
        double? maxWithin = null, firstBeyond = null;
        var step = 1;
        foreach (var fraction in options.SweepFractions)
        {
            var rate = fraction * maxRate;
            var result = await runner.RunAsync(PhaseFactory.Open(options, $"{fraction * 100:0.#}% of max", step, rate), nextIndex, ct);
            nextIndex = result.NextIndex;
            var report = PhaseFactory.Report(result, options.Slo);
            phases.Add(report);
            log.WriteLine($"sweep step {step}: offered {rate:0.###} req/s, achieved {report.Summary.RequestsPerSecond:0.###} req/s" +
                (report.SloHeld is { } held ? $", SLOs {(held ? "held" : "missed")} ({report.Summary.SloAttainment * 100:0.#}% good)" : ""));
            if (report.SloHeld == true && firstBeyond is null)
            {
                maxWithin = rate;
            }
            if (report.SloHeld == false)
            {
                firstBeyond ??= rate;
            }
            step++;
            if (ct.IsCancellationRequested || result.StoppedEarly is not null)
            {
                break;
            }
        }
        return (phases, new SweepOutcome(maxRate, maxWithin, firstBeyond));
    }
}
