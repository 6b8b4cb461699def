using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Flywheel.LoadGen.Tests.Support;

namespace Flywheel.LoadGen.Tests.Running;

/// <summary>The whole command against the scripted server: timings, files, errors, exit codes.</summary>
public sealed class EndToEndTests
{
    private static readonly string[] OutputFiles =
        ["summary.json", "requests.csv", "report.md", "tokens_per_second.svg", "ttft.svg", "itl.svg"];

    private static readonly ScriptedServerOptions Fast = new(TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(1));

    private static string FixedScenario(int prompt, int output, string extra = "") =>
        LoadGenRun.WriteScenario($$"""{"promptTokens": {{prompt}}, "outputTokens": {{output}}{{extra}}}""");

    [Fact]
    public async Task Measured_ttft_and_itl_match_the_server_script()
    {
        await using var server = await ScriptedServer.StartAsync(new(TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(50)));
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(16, 6),
            "--concurrency", "2", "--requests", "6", "--seed", "1");

        Assert.True(run.ExitCode == 0, run.Error);
        var phase = run.Summary().GetProperty("phases")[0];
        Assert.Equal(6, phase.GetProperty("successes").GetInt32());
        Assert.Equal(36, phase.GetProperty("outputTokens").GetInt32());
        Assert.Equal(6 * (16 + 5), phase.GetProperty("promptTokens").GetInt32()); // usage: 16 words + 5 template tokens
        Assert.Equal(30, phase.GetProperty("itlMs").GetProperty("count").GetInt32());
        // Generous tolerances: the test machine is shared and busy.
        Assert.InRange(phase.GetProperty("ttftMs").GetProperty("p50").GetDouble(), 160, 240);
        Assert.InRange(phase.GetProperty("itlMs").GetProperty("p50").GetDouble(), 10, 90);
        Assert.InRange(phase.GetProperty("tpotMs").GetProperty("p50").GetDouble(), 10, 90);
        Assert.InRange(phase.GetProperty("e2eMs").GetProperty("p50").GetDouble(), 360, 560);

        // What went over the wire: planned lengths, ignore_eos and usage in the stream, the listed model.
        Assert.All(server.Bodies, body =>
        {
            Assert.Equal(ScriptedServer.ModelId, body.GetProperty("model").GetString());
            Assert.Equal(6, body.GetProperty("max_tokens").GetInt32());
            Assert.True(body.GetProperty("ignore_eos").GetBoolean());
            Assert.True(body.GetProperty("stream").GetBoolean());
            Assert.True(body.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
            Assert.Equal(16, body.GetProperty("messages")[0].GetProperty("content").GetString()!.Split(' ').Length);
        });
    }

    [Fact]
    public async Task Models_spread_requests_over_adapters_and_report_each_one()
    {
        var slow = TimeSpan.FromMilliseconds(250);
        await using var server = await ScriptedServer.StartAsync(Fast with
        {
            AdapterIds = ["sql", "chat"],
            TtftByModel = new Dictionary<string, TimeSpan> { ["chat"] = slow },
        });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 4),
            "--models", "sql:3,chat:1", "--concurrency", "4", "--requests", "40", "--seed", "2");

        Assert.True(run.ExitCode == 0, run.Error);
        var sent = server.Bodies.Select(b => b.GetProperty("model").GetString()!).ToList();
        Assert.Equal(40, sent.Count);
        Assert.Equal(["chat", "sql"], sent.Distinct().Order());

        var summary = run.Summary();
        Assert.Equal(0.75, summary.GetProperty("models").GetProperty("sql").GetDouble());
        var phase = summary.GetProperty("phases")[0];
        var perModel = phase.GetProperty("perModel");
        foreach (var model in new[] { "sql", "chat" })
        {
            // Each model's numbers are over its own requests: counts as the server saw them, the slow one's TTFT.
            var m = perModel.GetProperty(model);
            Assert.Equal(sent.Count(s => s == model), m.GetProperty("successes").GetInt32());
            Assert.Equal(4 * sent.Count(s => s == model), m.GetProperty("outputTokens").GetInt32());
        }
        Assert.True(perModel.GetProperty("chat").GetProperty("ttftMs").GetProperty("p50").GetDouble() >= slow.TotalMilliseconds * 0.9);
        Assert.True(perModel.GetProperty("sql").GetProperty("ttftMs").GetProperty("p50").GetDouble() < slow.TotalMilliseconds * 0.9);

        var header = run.CsvRows()[0].Split(',');
        var column = Array.IndexOf(header, "model");
        Assert.Equal(sent.Order(), run.CsvRows().Skip(1).Select(r => r.Split(',')[column]).Order());
        Assert.Contains("| chat | ", File.ReadAllText(Path.Combine(run.Directory, "report.md")));
    }

    [Fact]
    public async Task A_model_the_server_does_not_list_stops_the_run_before_any_request()
    {
        await using var server = await ScriptedServer.StartAsync(Fast with { AdapterIds = ["sql"] });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 4),
            "--models", "sql,typo", "--requests", "4");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--models: 'typo' not served (GET /v1/models lists scripted-model, sql)", run.Error);
        Assert.Empty(server.Bodies);
    }

    [Theory]
    [InlineData("prompt-heavy")]
    [InlineData("balanced")]
    [InlineData("generation-heavy")]
    [InlineData("structured")]
    public async Task Each_mix_runs_and_writes_every_report_file(string mix)
    {
        await using var server = await ScriptedServer.StartAsync(Fast);
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--mix", mix, "--max-context", "256",
            "--concurrency", "3", "--requests", "8", "--seed", "3");

        Assert.True(run.ExitCode == 0, run.Error);
        foreach (var file in OutputFiles)
        {
            Assert.True(new FileInfo(Path.Combine(run.Directory, file)).Length > 0, file);
        }
        Assert.Equal(8, run.Summary().GetProperty("phases")[0].GetProperty("successes").GetInt32());
        Assert.Equal(9, run.CsvRows().Length);
        Assert.Contains("| TTFT |", File.ReadAllText(Path.Combine(run.Directory, "report.md")));
        Assert.Contains("request throughput", run.Out);

        // Structured requests carry the schema and leave ignore_eos out; the CSV flags exactly those.
        var structuredBodies = server.Bodies.Count(b => b.TryGetProperty("response_format", out _));
        Assert.Equal(structuredBodies, run.CsvRows().Skip(1).Count(row => row.Split(',')[8] == "1"));
        Assert.All(server.Bodies.Where(b => b.TryGetProperty("response_format", out _)), b =>
        {
            Assert.Equal("json_schema", b.GetProperty("response_format").GetProperty("type").GetString());
            Assert.False(b.TryGetProperty("ignore_eos", out _));
        });
        if (mix == "structured")
        {
            Assert.InRange(structuredBodies, 1, 7);
        }
        else
        {
            Assert.Equal(0, structuredBodies);
        }
    }

    [Fact]
    public async Task Error_statuses_are_counted_by_kind()
    {
        // Every 3rd request fails with 500, every 5th (not 3rd) with 429.
        static int? Fail(int n) => n % 3 == 0 ? 500 : n % 5 == 0 ? 429 : null;
        await using var server = await ScriptedServer.StartAsync(Fast with { Fail = Fail });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 4),
            "--rate", "200", "--arrival", "constant", "--requests", "15");

        // 7 of 15 failed: far past the 1% a run may lose, so the run fails and names its top errors.
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("7 of 15 measured requests failed", run.Error);
        Assert.Contains("top errors:", run.Error);
        Assert.Contains("5 http_500: scripted failure 500", run.Error);
        Assert.Contains("2 http_429: scripted failure 429", run.Error);
        var phase = run.Summary().GetProperty("phases")[0];
        Assert.Equal(15, phase.GetProperty("requests").GetInt32());
        Assert.Equal(5, phase.GetProperty("errors").GetProperty("http_500").GetInt32());
        Assert.Equal(2, phase.GetProperty("errors").GetProperty("http_429").GetInt32());
        Assert.Equal(8, phase.GetProperty("successes").GetInt32());
        Assert.Contains(run.CsvRows(), row => row.Contains(",0,http_500,500,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Every_request_failing_exits_1_and_still_writes_the_report()
    {
        await using var server = await ScriptedServer.StartAsync(Fast with { Fail = _ => 503 });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 4),
            "--concurrency", "2", "--requests", "4");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("all 4 measured requests failed (http_503: 4)", run.Error);
        Assert.True(File.Exists(Path.Combine(run.Directory, "summary.json")));
    }

    [Fact]
    public async Task Unreachable_server_exits_1_without_sending_load()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now

        using var run = await LoadGenRun.RunAsync("--url", $"http://127.0.0.1:{port}", "--mix", "balanced", "--requests", "3");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("server unreachable", run.Error);
        Assert.False(Directory.Exists(run.Directory));
    }

    [Fact]
    public async Task Server_metrics_deltas_sit_beside_our_own_numbers()
    {
        await using var server = await ScriptedServer.StartAsync(Fast with { ServeMetrics = true });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(10, 5, ", \"endpoint\": \"completions\""),
            "--concurrency", "2", "--requests", "6", "--warmup", "0");

        Assert.True(run.ExitCode == 0, run.Error);
        var metrics = run.Summary().GetProperty("serverMetrics");
        Assert.Equal(30, metrics.GetProperty("counterDeltas").GetProperty("flywheel_generation_tokens_total").GetDouble());
        Assert.Equal(60, metrics.GetProperty("counterDeltas").GetProperty("flywheel_prompt_tokens_total").GetDouble()); // no template on completions
        Assert.Equal(6, metrics.GetProperty("counterDeltas").GetProperty("flywheel_request_success_total").GetDouble());
        Assert.Equal(6, metrics.GetProperty("histogramMeans").GetProperty("flywheel_time_to_first_token_seconds").GetProperty("count").GetDouble());
        Assert.Contains("| flywheel_generation_tokens_total (Δ) | 30 | 30 |", File.ReadAllText(Path.Combine(run.Directory, "report.md")));
        Assert.All(server.Bodies, b => Assert.Equal(10, b.GetProperty("prompt").GetString()!.Split(' ').Length));
    }

    [Fact]
    public async Task Non_streaming_requests_report_ttft_as_the_whole_latency()
    {
        await using var server = await ScriptedServer.StartAsync(Fast);
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 4, ", \"stream\": false"),
            "--concurrency", "2", "--requests", "4");

        Assert.True(run.ExitCode == 0, run.Error);
        var phase = run.Summary().GetProperty("phases")[0];
        Assert.Equal(16, phase.GetProperty("outputTokens").GetInt32());
        Assert.Equal(0, phase.GetProperty("itlMs").GetProperty("count").GetInt32());
        // Exactly equal: both end when the body arrived (parsing it is the client's time, in neither).
        Assert.Equal(phase.GetProperty("e2eMs").GetProperty("p50").GetDouble(), phase.GetProperty("ttftMs").GetProperty("p50").GetDouble());
        Assert.All(server.Bodies, b => Assert.False(b.TryGetProperty("stream_options", out _)));
    }

    [Fact]
    public async Task Warmup_requests_are_recorded_but_not_measured_and_issuing_stops_on_time()
    {
        await using var server = await ScriptedServer.StartAsync(Fast);
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 4),
            "--concurrency", "2", "--warmup", "300ms", "--duration", "2s");

        Assert.True(run.ExitCode == 0, run.Error);
        var phase = run.Summary().GetProperty("phases")[0];
        var warmup = phase.GetProperty("warmupRequests").GetInt32();
        Assert.True(warmup > 0 && phase.GetProperty("requests").GetInt32() > 0);
        var rows = run.CsvRows().Skip(1).Select(r => r.Split(',')).ToList();
        Assert.Equal(warmup, rows.Count(r => r[2] == "1"));
        Assert.Equal(phase.GetProperty("requests").GetInt32(), rows.Count(r => r[2] == "0"));
        var starts = rows.Where(r => r[2] == "0").Select(r => double.Parse(r[3], CultureInfo.InvariantCulture)).ToList();
        Assert.True(starts.Min() >= 0.3);
        // 2 s measured (not less): on a loaded machine the first requests, JIT and connections included, can
        // hold both slots through a short window, and a run that measures nothing exits 1.
        Assert.True(starts.Max() < 2.3 + 0.5, $"last request sent at {starts.Max()} s");
    }

    [Fact]
    public async Task Sweep_probes_then_steps_and_reports_where_slos_hold()
    {
        await using var server = await ScriptedServer.StartAsync(new(TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(2)));
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--scenario", FixedScenario(8, 6),
            "--sweep", "--sweep-fractions", "0.5,1", "--sweep-probe-concurrency", "4", "--requests", "4",
            "--slo-ttft", "5s", "--slo-itl", "1s");

        Assert.True(run.ExitCode == 0, run.Error);
        var summary = run.Summary();
        var phases = summary.GetProperty("phases");
        Assert.Equal(["probe", "50% of max", "100% of max"], phases.EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        var max = summary.GetProperty("sweep").GetProperty("probedMaxRequestsPerSecond").GetDouble();
        Assert.True(max > 0);
        Assert.Equal(max / 2, phases[1].GetProperty("targetRequestsPerSecond").GetDouble(), 3);
        Assert.True(phases[2].GetProperty("sloHeld").GetBoolean());
        Assert.Equal(max, summary.GetProperty("sweep").GetProperty("maxRateWithinSlo").GetDouble(), 3);
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("sweep").GetProperty("firstRateBeyondSlo").ValueKind);
        Assert.True(File.Exists(Path.Combine(run.Directory, "sweep_ttft.svg")));
        Assert.Equal(12, run.CsvRows().Length - 1);
        Assert.Equal(["0", "1", "2"], run.CsvRows().Skip(1).Select(r => r.Split(',')[0]).Distinct().Order());
    }
}
