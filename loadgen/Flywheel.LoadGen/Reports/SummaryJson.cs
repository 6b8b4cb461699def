using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.LoadGen.Running;
using Flywheel.LoadGen.Stats;

namespace Flywheel.LoadGen.Reports;

/// <summary>
/// summary.json: the run's configuration and, per phase, the headline numbers. Latencies are in
/// milliseconds (fields end in "Ms"); a statistic without samples is null. A plain run has one
/// phase named "run"; a sweep has "probe" then one phase per rate step, and a "sweep" object.
/// </summary>
internal static class SummaryJson
{
    // Relaxed escaping keeps "+00:00" and non-ASCII names readable; the file is never embedded in HTML.
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Render(RunReport report)
    {
        var o = report.Options;
        var root = new JsonObject
        {
            ["tool"] = "flywheel loadgen",
            ["startedAt"] = report.StartedAt.ToString("O"),
            ["wallSeconds"] = Number(report.WallSeconds),
            ["cancelled"] = report.Cancelled,
            ["server"] = o.Server.ToString(),
            ["model"] = report.Model,
            ["models"] = o.Models is { } mix
                ? new JsonObject(mix.Names.Select((n, i) => KeyValuePair.Create(n, (JsonNode?)Number(mix.Share(i)))))
                : null,
            ["workload"] = new JsonObject
            {
                ["name"] = o.WorkloadName,
                ["description"] = o.Scenario.Describe(),
                ["endpoint"] = o.Scenario.Endpoint.ToString().ToLowerInvariant(),
                ["stream"] = o.Scenario.Stream,
                ["promptTokens"] = o.Scenario.PromptTokens.Describe(),
                ["outputTokens"] = o.Scenario.OutputTokens.Describe(),
                ["structuredShare"] = o.Scenario.StructuredShare,
                ["maxContextTokens"] = o.MaxContextTokens,
                ["seed"] = o.Seed,
            },
            ["load"] = new JsonObject
            {
                ["mode"] = o.Mode.ToString().ToLowerInvariant(),
                ["durationSeconds"] = o.DurationSeconds,
                ["requestCount"] = o.RequestCount,
                ["warmupSeconds"] = o.WarmupSeconds,
            },
            ["slo"] = o.Slo.IsSet
                ? new JsonObject { ["ttftMs"] = Ms(o.Slo.TtftSeconds), ["itlMs"] = Ms(o.Slo.ItlSeconds), ["attainment"] = o.Slo.Attainment }
                : null,
            ["phases"] = new JsonArray(report.Phases.Select(Phase).ToArray<JsonNode?>()),
            ["sweep"] = report.Sweep is { } s
                ? new JsonObject
                {
                    ["probedMaxRequestsPerSecond"] = Number(s.ProbedMaxRequestsPerSecond),
                    ["maxRateWithinSlo"] = Number(s.MaxRateWithinSlo),
                    ["firstRateBeyondSlo"] = Number(s.FirstRateBeyondSlo),
                }
                : null,
            ["serverMetrics"] = report.ServerMetrics is { } m
                ? new JsonObject
                {
                    ["prefix"] = m.Prefix,
                    ["counterDeltas"] = new JsonObject(m.Counters.Select(c => KeyValuePair.Create(c.Name, (JsonNode?)Number(c.Delta)))),
                    ["histogramMeans"] = new JsonObject(m.Histograms.Select(h => KeyValuePair.Create(h.Name,
                        (JsonNode?)new JsonObject { ["count"] = Number(h.CountDelta), ["mean"] = Number(h.MeanDelta) }))),
                }
                : null,
            ["serverMetricsNote"] = report.ServerMetricsNote,
        };
        return root.ToJsonString(Options) + "\n";
    }

    private static JsonObject Phase(PhaseReport p)
    {
        var phase = new JsonObject
        {
            ["name"] = p.Name,
            ["step"] = p.Step,
            ["load"] = p.LoadDescription,
            ["targetRequestsPerSecond"] = Number(p.TargetRatePerSecond),
            ["concurrency"] = p.Concurrency,
            ["stoppedEarly"] = p.StoppedEarly,
        };
        AddNumbers(phase, p.Summary);
        phase["sloHeld"] = p.SloHeld;
        phase["perModel"] = p.PerModel is { } perModel
            ? new JsonObject(perModel.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)AddNumbers(new JsonObject(), m.Value))))
            : null;
        return phase;
    }

    // The numbers of a summary: a phase's, or one model's within it.
    private static JsonObject AddNumbers(JsonObject o, RunSummary s)
    {
        o["requests"] = s.RequestCount;
        o["successes"] = s.SuccessCount;
        o["failures"] = s.FailureCount;
        o["warmupRequests"] = s.WarmupCount;
        o["durationSeconds"] = Number(s.DurationSeconds);
        o["requestsPerSecond"] = Number(s.RequestsPerSecond);
        o["outputTokensPerSecond"] = Number(s.OutputTokensPerSecond);
        o["totalTokensPerSecond"] = Number(s.TotalTokensPerSecond);
        o["promptTokens"] = s.PromptTokenCount;
        o["outputTokens"] = s.OutputTokenCount;
        o["ttftMs"] = Latency(s.Ttft);
        o["itlMs"] = Latency(s.Itl);
        o["tpotMs"] = Latency(s.Tpot);
        o["e2eMs"] = Latency(s.E2e);
        o["goodputRequestsPerSecond"] = Number(s.GoodputRequestsPerSecond);
        o["sloAttainment"] = Number(s.SloAttainment);
        o["errors"] = new JsonObject(s.Errors.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)e.Value)));
        return o;
    }

    private static JsonObject Latency(LatencyStats l) => new()
    {
        ["count"] = l.Count,
        ["mean"] = Ms(l.Mean),
        ["p50"] = Ms(l.P50),
        ["p90"] = Ms(l.P90),
        ["p99"] = Ms(l.P99),
    };

    private static JsonNode? Ms(double? seconds) => Number(seconds * 1000);

    // JSON has no NaN or infinity: a statistic without samples, or an infinite rate, is null.
    private static JsonNode? Number(double? value) =>
        value is { } v && double.IsFinite(v) ? JsonValue.Create(Math.Round(v, 6)) : null;
}
