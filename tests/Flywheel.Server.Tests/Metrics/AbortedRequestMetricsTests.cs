using System.Text;
using Flywheel.Models.Building;
using Flywheel.Scheduling;

namespace Flywheel.Server.Tests.Metrics;

/// <summary>
/// Request metrics count what the engine did: clients that vanish mid-stream still add one abort each and
/// every token the engine decoded for them.
/// </summary>
public sealed class AbortedRequestMetricsTests
{
    private const int Clients = 8;

    [Fact]
    public async Task DisconnectsMidStreamAddExactlyOneAbortEachAndEveryDecodedToken()
    {
        // A long context, so no stream can reach its max_tokens before its client has gone.
        await using var server = await EngineServer.StartAsync("metrics-aborts", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 2048 }, new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 32 });
        var label = ("model", server.Model.Name);
        var before = await Exposition.ScrapeAsync(server.Client);

        // Half leave after the first text (while decoding), half right after a chat stream opens
        // (possibly still waiting for a slot): all of them with the engine still working for them.
        await Task.WhenAll(Enumerable.Range(0, Clients).Select(i => StreamThenVanishAsync(server, afterFirstToken: i % 2 == 0)));

        // The engine notices each disconnect on its next step; wait (bounded) until it holds no request,
        // seen on two scrapes in a row (a request moving from its queue into the waiting list is briefly in neither).
        Exposition after;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        var idleScrapes = 0;
        while (true)
        {
            after = await Exposition.ScrapeAsync(server.Client);
            var (running, waiting) = (after.Value("flywheel_num_requests_running", label), after.Value("flywheel_num_requests_waiting", label));
            idleScrapes = running == 0 && waiting == 0 ? idleScrapes + 1 : 0;
            if (idleScrapes == 2)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"after 60 s the engine still holds requests: running {running}, waiting {waiting}");
            await Task.Delay(100);
        }

        double Added(string name, params (string, string)[] labels) => after.Value(name, [label, .. labels]) - before.Value(name, [label, .. labels]);
        Assert.Equal(Clients, Added("flywheel_request_success_total", ("finished_reason", "abort")));
        foreach (var reason in new[] { "stop", "length", "error" })
        {
            Assert.Equal(0, Added("flywheel_request_success_total", ("finished_reason", reason)));
        }

        // Every token the engine sampled belongs to one of these requests: the counter holds them all.
        var decoded = server.Backend.Engine.GeneratedTokenCount;
        Assert.True(decoded >= Clients / 2, $"the engine decoded {decoded} tokens");
        Assert.Equal(decoded, Added("flywheel_generation_tokens_total"));
        Assert.Equal(Clients, Added("flywheel_e2e_request_latency_seconds_count"));
        Assert.True(Added("flywheel_time_to_first_token_seconds_count") >= Clients / 2);
        Assert.Equal(0, after.Value("flywheel_num_requests_running", label));
        Assert.Equal(0, after.Value("flywheel_num_requests_waiting", label));
    }

    /// <summary>
    /// Opens a stream and drops the connection: after the first completion text (the request is decoding),
    /// or for chat right after the opening role chunk (the request may still wait for a slot).
    /// </summary>
    private static async Task StreamThenVanishAsync(EngineServer server, bool afterFirstToken)
    {
        var (path, body) = afterFirstToken
            ? ("/v1/completions", $$"""{"model":"{{server.Model.Name}}","prompt":"disconnect storm","max_tokens":2000,"ignore_eos":true,"stream":true}""")
            : ("/v1/chat/completions", $$"""{"model":"{{server.Model.Name}}","messages":[{"role":"user","content":"disconnect storm"}],"max_tokens":2000,"ignore_eos":true,"stream":true}""");
        // No draining on dispose: by default the handler reads up to 1 MB of what is left to reuse the connection.
        using var handler = new SocketsHttpHandler { MaxResponseDrainSize = 0, ResponseDrainTimeout = TimeSpan.Zero };
        using var client = new HttpClient(handler) { BaseAddress = server.BaseUri, Timeout = TimeSpan.FromSeconds(60) };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var evt = await Sse.ReadEventAsync(reader);
        Assert.Contains(afterFirstToken ? "\"text\":\"" : "\"role\":\"assistant\"", evt);
        Assert.DoesNotContain("finish_reason\":\"", evt);
        // Disposing the response and its own client closes the connection: the server sees the client go.
    }
}
