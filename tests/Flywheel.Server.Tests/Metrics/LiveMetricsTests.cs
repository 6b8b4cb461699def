using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Scheduling;

namespace Flywheel.Server.Tests.Metrics;

/// <summary>/metrics of a live server over the engine: valid for promtool, complete from the start, agreeing with the API's usage.</summary>
public sealed class LiveMetricsTests
{
    /// <summary>Series that must exist at zero before the first request, with their type's sample suffix.</summary>
    private static readonly string[] AtZeroFromStart =
    [
        "flywheel_num_requests_running", "flywheel_num_requests_waiting", "flywheel_kv_cache_usage_perc",
        "flywheel_prompt_tokens_total", "flywheel_generation_tokens_total", "flywheel_num_preemptions_total", "flywheel_steps_total",
        "flywheel_structured_validation_failures_total", "flywheel_structured_repairs_total",
        "flywheel_time_to_first_token_seconds_count", "flywheel_inter_token_latency_seconds_count", "flywheel_e2e_request_latency_seconds_count",
        "flywheel_request_queue_time_seconds_count", "flywheel_request_prefill_time_seconds_count", "flywheel_request_decode_time_seconds_count",
        "flywheel_iteration_tokens_count", "flywheel_step_decode_tokens_count", "flywheel_step_prefill_chunk_tokens_count",
        "flywheel_grammar_compile_seconds_count", "flywheel_grammar_mask_seconds_count",
    ];

    [Fact]
    public async Task EverySeriesExistsAtZeroBeforeTheFirstRequestAndPassesPromtool()
    {
        await using var server = await EngineServer.StartAsync("metrics", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 32 });
        var metrics = await Exposition.ScrapeAsync(server.Client);
        var model = ("model", server.Model.Name);
        foreach (var name in AtZeroFromStart)
        {
            Assert.Equal(0, metrics.Value(name, model));
        }

        foreach (var reason in new[] { "stop", "length", "abort", "error" })
        {
            Assert.Equal(0, metrics.Value("flywheel_request_success_total", model, ("finished_reason", reason)));
        }

        foreach (var kind in new[] { "decode", "chunk" })
        {
            Assert.Equal(0, metrics.Value("flywheel_model_runs_total", model, ("kind", kind)));
        }

        Assert.Equal(0, metrics.Value("flywheel_requests_rejected_total", model, ("reason", "queue_full")));
        Assert.Equal(0, metrics.Value("flywheel_time_to_first_token_seconds_bucket", model, ("le", "0.001")));
        Assert.Equal(0, metrics.Value("flywheel_time_to_first_token_seconds_bucket", model, ("le", "2560")));
        Assert.True(metrics.Value("process_cpu_seconds_total") > 0);
        Assert.Equal(0, await PromtoolAsync(metrics.Text));
    }

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

        using var raw = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, raw.StatusCode);
        Assert.Equal("text/plain", raw.Content.Headers.ContentType!.MediaType);
        var metrics = await Exposition.ScrapeAsync(client);
        var label = ("model", model.Name);
        Assert.Equal(prompt, metrics.Value("flywheel_prompt_tokens_total", label));
        Assert.Equal(completion, metrics.Value("flywheel_generation_tokens_total", label));
        Assert.Equal(3, metrics.Value("flywheel_request_success_total", label, ("finished_reason", "length")));
        Assert.Equal(3, metrics.Value("flywheel_e2e_request_latency_seconds_count", label));
        Assert.Equal(completion - 3, metrics.Value("flywheel_inter_token_latency_seconds_count", label));
        Assert.Equal(0, metrics.Value("flywheel_num_requests_running", label));
        // One request at a time: every step is one Run (a prompt chunk, then decodes), none mixed.
        var chunkRuns = metrics.Value("flywheel_model_runs_total", label, ("kind", "chunk"));
        var decodeRuns = metrics.Value("flywheel_model_runs_total", label, ("kind", "decode"));
        Assert.Equal(3, chunkRuns);
        Assert.Equal(metrics.Value("flywheel_steps_total", label), chunkRuns + decodeRuns);
        Assert.Equal(metrics.Value("flywheel_steps_total", label), metrics.Value("flywheel_iteration_tokens_count", label));
        Assert.DoesNotContain("kind=\"mixed\"", metrics.Text); // and without the mixed graph its series never appears

        // HTTP metrics (prometheus-net.AspNetCore) count the API's requests by route.
        Assert.Equal(3, metrics.Value("http_requests_received_total", ("endpoint", "/v1/completions"), ("code", "200")));
        Assert.Equal(0, await PromtoolAsync(metrics.Text));
    }

    [Fact]
    public async Task AStopStringEndsTheRequestAsStopInTheMetricsToo()
    {
        // The reader sees the stop string, the engine ends the request: the metrics must say "stop", not "abort".
        // (Were the engine to reach max_tokens before the reader saw the stop string, it would count "length":
        // the metrics follow the engine. So the second request may run far longer than the stop takes.)
        await using var server = await EngineServer.StartAsync("metrics-long", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 32768 }, new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 16 });
        var request = $$"""{"model":"{{server.Model.Name}}","prompt":"The engine runs","temperature":0,"ignore_eos":true""";
        using var free = await server.Client.PostAsync("/v1/completions", new StringContent(request + ""","max_tokens":30}""", System.Text.Encoding.UTF8, "application/json"));
        var text = JsonDocument.Parse(await free.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        var stop = JsonSerializer.Serialize(text.Substring(text.Length / 2, 3));
        using var cut = await server.Client.PostAsync("/v1/completions", new StringContent(request + $$""","max_tokens":30000,"stop":[{{stop}}]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal("stop", JsonDocument.Parse(await cut.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());

        var label = ("model", server.Model.Name);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while ((await Exposition.ScrapeAsync(server.Client)).Value("flywheel_e2e_request_latency_seconds_count", label) < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the engine did not finish the stopped request");
            await Task.Delay(50);
        }

        // A scrape is no snapshot: it writes the finish-reason counters before the latency histograms, so a request
        // finished while it was written can show in the e2e count and not yet in its reason. The engine counts the
        // reason before the latency, so a scrape begun after the count was seen holds both.
        var metrics = await Exposition.ScrapeAsync(server.Client);

        Assert.Equal(1, metrics.Value("flywheel_request_success_total", label, ("finished_reason", "stop")));
        Assert.Equal(1, metrics.Value("flywheel_request_success_total", label, ("finished_reason", "length")));
        Assert.Equal(0, metrics.Value("flywheel_request_success_total", label, ("finished_reason", "abort")));
        Assert.Equal(server.Backend.Engine.GeneratedTokenCount, metrics.Value("flywheel_generation_tokens_total", label));
    }

    [Fact]
    public async Task ServersInOneProcessKeepTheirOwnCounts()
    {
        await using var busy = await EngineServer.StartAsync("metrics", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 32 });
        await using var idle = await EngineServer.StartAsync("metrics", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 32 });
        var body = $$"""{"model":"{{busy.Model.Name}}","prompt":"one server only","max_tokens":4,"ignore_eos":true}""";
        using (var response = await busy.Client.PostAsync("/v1/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json")))
        {
            response.EnsureSuccessStatusCode();
        }

        var label = ("model", busy.Model.Name);
        Assert.Equal(4, (await Exposition.ScrapeAsync(busy.Client)).Value("flywheel_generation_tokens_total", label));
        var other = await Exposition.ScrapeAsync(idle.Client);
        Assert.Equal(0, other.Value("flywheel_generation_tokens_total", label));
        Assert.Equal(0, other.Value("flywheel_request_success_total", label, ("finished_reason", "length")));
    }

    /// <summary>promtool (Debian package prometheus) checks the exposition: 0 = parses, no lint problem; 1 = parse error; 3 = lint problems.</summary>
    internal static async Task<int> PromtoolAsync(string text)
    {
        using var promtool = Process.Start(new ProcessStartInfo("promtool", ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await promtool.StandardInput.WriteAsync(text);
        promtool.StandardInput.Close();
        var output = promtool.StandardError.ReadToEndAsync();
        var errors = await promtool.StandardOutput.ReadToEndAsync() + await output;
        await promtool.WaitForExitAsync();
        Assert.True(promtool.ExitCode == 0, $"promtool check metrics exited {promtool.ExitCode}: {errors}");
        return promtool.ExitCode;
    }
}
