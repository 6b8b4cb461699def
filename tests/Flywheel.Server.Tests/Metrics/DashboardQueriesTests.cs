using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Hosting;
using Flywheel.Tokenization;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests.Metrics;

/// <summary>
/// A real Prometheus (Debian package prometheus) scrapes a live server under a short load; every PromQL
/// expression of dashboards/flywheel-dashboard.json parses and returns data through its HTTP API.
/// </summary>
public sealed class DashboardQueriesTests
{
    [Fact]
    public async Task EveryDashboardQueryReturnsDataFromARealPrometheus()
    {
        var root = EngineServer.RepositoryRoot();
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "dashboards", "flywheel-dashboard.json")));
        var expressions = dashboard.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();
        Assert.NotEmpty(expressions);

        await using var engineServer = await EngineServer.StartAsync("dashboard", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 32, ChunkSize = 8 });
        var (model, server, client) = (engineServer.Model, engineServer.BaseUri, engineServer.Client);

        var work = TestScratch.Path("prometheus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        var port = FreePort();
        File.WriteAllText(Path.Combine(work, "prometheus.yml"),
            $"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: flywheel\n    static_configs:\n      - targets: [\"127.0.0.1:{server.Port}\"]\n");
        using var prometheus = Process.Start(new ProcessStartInfo("prometheus",
            [$"--config.file={Path.Combine(work, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(work, "data")}", $"--web.listen-address=127.0.0.1:{port}"])
        { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _ = prometheus.StandardError.ReadToEndAsync();
        _ = prometheus.StandardOutput.ReadToEndAsync();
        try
        {
            using var prom = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            await WaitUntil(async () => (await TryGet(prom, "/-/ready")) == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "Prometheus did not become ready");

            // Load for a few scrape intervals, so rate() has at least two samples of moving counters.
            var until = DateTime.UtcNow.AddSeconds(4);
            var load = Enumerable.Range(0, 3).Select(async w =>
            {
                while (DateTime.UtcNow < until)
                {
                    // One worker asks for JSON objects, so the grammar and repair panels have data too.
                    var body = w == 2
                        ? $$$"""{"model":"{{{model.Name}}}","prompt":"dashboard load {{{w}}}","max_tokens":12,"response_format":{"type":"json_object"}}"""
                        : $$"""{"model":"{{model.Name}}","prompt":"dashboard load {{w}}","max_tokens":12,"ignore_eos":true}""";
                    using var _ = await client.PostAsync("/v1/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
                }
            });
            await Task.WhenAll(load);
            await Task.Delay(2500);

            var missing = new List<string>();
            foreach (var expr in expressions)
            {
                var result = await WaitForResult(prom, expr);
                if (result is not null)
                {
                    missing.Add(result);
                }
            }

            Assert.True(missing.Count == 0, string.Join("\n", missing));
        }
        finally
        {
            prometheus.Kill(entireProcessTree: true);
            await prometheus.WaitForExitAsync();
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>Null when the query succeeds with data, else a description of the problem.</summary>
    private static async Task<string?> WaitForResult(HttpClient prom, string expr)
    {
        string? problem = null;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var json = await prom.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(expr));
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.GetProperty("status").GetString() != "success")
            {
                return $"{expr}: {json}";
            }

            var results = doc.RootElement.GetProperty("data").GetProperty("result");
            if (results.GetArrayLength() > 0)
            {
                return null;
            }

            problem = $"{expr}: no data";
            await Task.Delay(500);
        }

        return problem;
    }

    private static async Task<HttpStatusCode?> TryGet(HttpClient client, string path)
    {
        try
        {
            using var response = await client.GetAsync(path);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task WaitUntil(Func<Task<bool>> condition, TimeSpan timeout, string message)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(200);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
