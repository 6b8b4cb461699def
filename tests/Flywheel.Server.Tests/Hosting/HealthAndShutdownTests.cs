using System.Net;
using Flywheel.Sampling;
using Flywheel.Server.Tests.Testing;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.Hosting;

public sealed class HealthAndShutdownTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task ReadinessFollowsTheBackendWhileLivenessIsAlways200()
    {
        var backend = new ScriptedBackend(Model) { IsReady = false };
        await using var server = await StartAsync(backend: backend);

        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/live")).StatusCode);
        using var loading = await server.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, loading.StatusCode);
        Assert.Equal("loading", (await JsonAsync(loading)).GetProperty("status").GetString());

        backend.IsReady = true;
        using var ready = await server.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", (await JsonAsync(ready)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task ShutdownDrainsInFlightRequestsAndRefusesNewOnes()
    {
        var backend = new ScriptedBackend(Model);
        await using var server = await StartAsync(o => o.DrainTimeout = TimeSpan.FromSeconds(20), backend);
        backend.Pause();
        using var inFlight = await server.PostAsync("/v1/chat/completions", Chat("still here", ""","stream":true"""));
        var reader = new StreamReader(await inFlight.Content.ReadAsStreamAsync());
        await Sse.ReadEventAsync(reader);

        var stopping = server.App.StopAsync();
        await WaitForReadyStatusAsync(server, HttpStatusCode.ServiceUnavailable);
        using var refused = await server.PostAsync("/v1/chat/completions", Chat("too late"));
        await OpenAi.ErrorResponseTests.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "server_shutdown");
        Assert.False(stopping.IsCompleted);

        backend.Resume();
        var rest = await reader.ReadToEndAsync();
        Assert.EndsWith("data: [DONE]\n\n", rest);
        Assert.Contains("\"finish_reason\":\"stop\"", rest);
        await stopping.WaitAsync(Bound);
        Assert.Equal(0, backend.AbortCount);
    }

    [Fact]
    public async Task RequestsStillRunningAfterTheDrainTimeoutAreAborted()
    {
        var backend = new ScriptedBackend(Model);
        await using var server = await StartAsync(o => o.DrainTimeout = TimeSpan.FromMilliseconds(300), backend);
        backend.Pause();
        using var inFlight = await server.PostAsync("/v1/chat/completions", Chat("stuck", ""","stream":true"""));
        var reader = new StreamReader(await inFlight.Content.ReadAsStreamAsync());
        await Sse.ReadEventAsync(reader);

        var stopping = server.App.StopAsync();
        var events = Sse.Parse("data: {}\n\n" + await reader.ReadToEndAsync().WaitAsync(Bound));
        Assert.Equal("server_shutdown", events[^1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(FinishReason.Abort, (await backend.Ended.ReadAsync().AsTask().WaitAsync(Bound)).Reason);
        await stopping.WaitAsync(Bound);
    }

    [Fact]
    public async Task StartupSaysWhereItListensAndWhatItLoaded()
    {
        await using var server = await StartAsync();
        var output = server.Output.ToString();

        Assert.Contains($"model '{Model}' (scripted test backend), context 256 tokens", output);
        Assert.Contains($"listening on {server.BaseUri}", output);
        Assert.Equal("127.0.0.1", server.BaseUri.Host);
        Assert.NotEqual(0, server.BaseUri.Port);
    }

    private static async Task WaitForReadyStatusAsync(ServerHarness server, HttpStatusCode expected)
    {
        using var bound = new CancellationTokenSource(Bound);
        while (true)
        {
            using var response = await server.Client.GetAsync("/health/ready", bound.Token);
            if (response.StatusCode == expected)
            {
                Assert.Equal("draining", (await JsonAsync(response)).GetProperty("status").GetString());
                return;
            }

            await Task.Delay(10, bound.Token);
        }
    }
}
