using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Hosting;
using Flywheel.Server.Metrics;
using Flywheel.Tokenization;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests.Metrics;

public sealed class PrometheusExporterTests
{
    [Fact]
    public void RendersCountersGaugesAndCumulativeHistograms()
    {
        using var meter = new Meter("test-" + Guid.NewGuid());
        using var exporter = new PrometheusExporter(meter, new Dictionary<string, double[]> { ["lat_seconds"] = [0.1, 1] });
        var counter = meter.CreateCounter<long>("reqs", description: "Requests.");
        var histogram = meter.CreateHistogram<double>("lat_seconds", description: "Latency.");
        meter.CreateObservableGauge("depth", () => 7, description: "Depth.");
        counter.Add(2, new KeyValuePair<string, object?>("reason", "a\"b\\c\nd"));
        counter.Add(3, new KeyValuePair<string, object?>("reason", "a\"b\\c\nd"));
        foreach (var v in new[] { 0.05, 0.5, 0.7, 3.0 })
        {
            histogram.Record(v);
        }

        var text = exporter.Scrape();
        Assert.Contains("# TYPE reqs_total counter\nreqs_total{reason=\"a\\\"b\\\\c\\nd\"} 5\n", text);
        Assert.Contains("# TYPE depth gauge\ndepth 7\n", text);
        Assert.Contains("lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"1\"} 3\nlat_seconds_bucket{le=\"+Inf\"} 4\nlat_seconds_sum 4.25\nlat_seconds_count 4\n", text);
        Assert.Contains("process_resident_memory_bytes ", text);
    }

    [Fact]
    public async Task ConcurrentRecordingLosesNothing()
    {
        using var meter = new Meter("test-" + Guid.NewGuid());
        using var exporter = new PrometheusExporter(meter);
        var counter = meter.CreateCounter<long>("hits");
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                counter.Add(1);
            }
        })));
        Assert.Contains("hits_total 80000\n", exporter.Scrape());
    }
}

/// <summary>/metrics of a live server over the engine: valid for promtool, counters agreeing with the API's usage.</summary>
public sealed class LiveMetricsTests
{
    [Fact]
    public async Task MetricsPassPromtoolAndAgreeWithUsage()
    {
        await using var server = await EngineServer.StartAsync("metrics", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 32 });
        var (model, client) = (server.Model, server.Client);
        int prompt = 0, completion = 0;
        for (var i = 0; i < 3; i++)
        {
            var body = $$"""{"model":"{{model.Name}}","prompt":"metrics test number {{i}}","max_tokens":{{5 + i}},"ignore_eos":true}""";
            using var response = await client.PostAsync("/v1/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            var usage = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("usage");
            prompt += usage.GetProperty("prompt_tokens").GetInt32();
            completion += usage.GetProperty("completion_tokens").GetInt32();
        }

        using var metrics = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", metrics.Content.Headers.ContentType!.ToString());
        var text = await metrics.Content.ReadAsStringAsync();
        var label = $"{{model=\"{model.Name}\"}}";
        Assert.Equal(prompt, Value(text, "flywheel_prompt_tokens_total" + label));
        Assert.Equal(completion, Value(text, "flywheel_generation_tokens_total" + label));
        Assert.Equal(3, Value(text, $"flywheel_request_success_total{{finished_reason=\"length\",model=\"{model.Name}\"}}"));
        Assert.Equal(3, Value(text, "flywheel_e2e_request_latency_seconds_count" + label));
        Assert.Equal(completion - 3, Value(text, "flywheel_inter_token_latency_seconds_count" + label));
        Assert.Equal(0, Value(text, "flywheel_num_requests_running" + label));
        // One request at a time: every step is one Run (a prompt chunk, then decodes), none mixed.
        var chunkRuns = Value(text, $"flywheel_model_runs_total{{kind=\"chunk\",model=\"{model.Name}\"}}");
        var decodeRuns = Value(text, $"flywheel_model_runs_total{{kind=\"decode\",model=\"{model.Name}\"}}");
        Assert.Equal(3, chunkRuns);
        Assert.Equal(Value(text, "flywheel_steps_total" + label), chunkRuns + decodeRuns);
        Assert.DoesNotContain("kind=\"mixed\"", text);
        foreach (var name in new[] { "flywheel_num_requests_waiting", "flywheel_kv_cache_usage_perc", "flywheel_num_preemptions_total", "flywheel_time_to_first_token_seconds_bucket", "flywheel_request_queue_time_seconds_sum", "flywheel_request_prefill_time_seconds_count", "flywheel_request_decode_time_seconds_count", "flywheel_iteration_tokens_total_bucket", "flywheel_step_decode_tokens_sum", "flywheel_step_prefill_chunk_tokens_sum", "flywheel_steps_total" })
        {
            Assert.Contains(name, text);
        }

        // promtool (Debian package prometheus) must parse the exposition (exit 1 = parse error) and find no lint
        // problem (exit 3) except one we keep on purpose: flywheel_iteration_tokens_total is a histogram named
        // exactly like vLLM's vllm:iteration_tokens_total so dashboards carry over, and promtool's linter dislikes
        // "_total" on a non-counter.
        using var promtool = Process.Start(new ProcessStartInfo("promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var errors = await promtool.StandardError.ReadToEndAsync() + await promtool.StandardOutput.ReadToEndAsync();
        await promtool.WaitForExitAsync();
        var problems = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Where(line => line != "flywheel_iteration_tokens_total non-counter metrics should not have \"_total\" suffix").ToList();
        Assert.True(promtool.ExitCode is 0 or 3, "promtool check metrics could not parse the exposition: " + errors);
        Assert.True(problems.Count == 0, "promtool check metrics: " + string.Join("\n", problems));
    }

    private static double Value(string text, string series)
    {
        var match = Regex.Match(text, "^" + Regex.Escape(series) + " (\\S+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"series {series} not found");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
