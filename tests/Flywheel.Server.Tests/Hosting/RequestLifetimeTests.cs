using System.Net;
using System.Text.Json;
using Flywheel.Sampling;
using Flywheel.Server.Tests.Testing;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.Hosting;

/// <summary>Requests end when the client leaves or the timeout hits, and the backend hears of it.</summary>
public sealed class RequestLifetimeTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task ClientDisconnectMidStreamAbortsTheBackendRequest()
    {
        var backend = new ScriptedBackend(Model);
        await using var server = await StartAsync(backend: backend);
        backend.Pause();
        using var cancel = new CancellationTokenSource();
        var response = await server.PostAsync("/v1/chat/completions", Chat("a b c", ""","stream":true"""), cancel.Token);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        Assert.Contains("\"role\":\"assistant\"", await Sse.ReadEventAsync(reader));
        Assert.Equal(1, backend.ActiveCount);

        await cancel.CancelAsync();
        response.Dispose();

        var end = await backend.Ended.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(FinishReason.Abort, end.Reason);
        Assert.Equal(0, end.CompletionTokenCount);
        Assert.Equal(0, backend.ActiveCount);
        Assert.Equal(1, backend.AbortCount);
    }

    [Fact]
    public async Task ClientDisconnectDuringNonStreamingRequestAbortsToo()
    {
        var backend = new ScriptedBackend(Model);
        await using var server = await StartAsync(backend: backend);
        backend.Pause();
        using var cancel = new CancellationTokenSource();
        var request = server.PostAsync("/v1/completions", Completion("a b"), cancel.Token);
        using (var bound = new CancellationTokenSource(Bound))
        {
            while (backend.ActiveCount == 0)
            {
                await Task.Delay(10, bound.Token); // until the request has reached the backend
            }
        }

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);

        var end = await backend.Ended.ReadAsync().AsTask().WaitAsync(Bound);
        Assert.Equal(FinishReason.Abort, end.Reason);
    }

    [Fact]
    public async Task TimeoutEndsStreamWithErrorEventAndAbortsBackend()
    {
        var backend = new ScriptedBackend(Model);
        await using var server = await StartAsync(o => o.RequestTimeout = TimeSpan.FromMilliseconds(200), backend);
        backend.Pause();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("a b", ""","stream":true"""));

        var events = await Sse.ReadAllAsync(response);
        Assert.Equal(2, events.Count);
        Assert.Equal("request_timeout", events[1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(FinishReason.Abort, (await backend.Ended.ReadAsync().AsTask().WaitAsync(Bound)).Reason);
    }

    [Fact]
    public async Task TimeoutWithoutStreamingIs504()
    {
        var backend = new ScriptedBackend(Model);
        await using var server = await StartAsync(o => o.RequestTimeout = TimeSpan.FromMilliseconds(200), backend);
        backend.Pause();
        using var response = await server.PostAsync("/v1/completions", Completion("a b"));

        var error = await OpenAi.ErrorResponseTests.ErrorAsync(response, HttpStatusCode.GatewayTimeout, "request_timeout");
        Assert.Equal("timeout_error", error.GetProperty("type").GetString());
        Assert.Equal(FinishReason.Abort, (await backend.Ended.ReadAsync().AsTask().WaitAsync(Bound)).Reason);
    }

    [Fact]
    public async Task ConcurrentStreamsGetTheirOwnTokens()
    {
        const int count = 200;
        var backend = new ScriptedBackend(Model) { TokenDelay = TimeSpan.FromMilliseconds(2) };
        await using var server = await StartAsync(backend: backend);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var texts = await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            var prompt = $"r{i} x{i} y{i} z{i} r{i}";
            using var response = await server.PostAsync("/v1/chat/completions", Chat(prompt, ""","stream":true,"stream_options":{"include_usage":true}"""), bound.Token);
            var chunks = Sse.Parse(await response.Content.ReadAsStringAsync(bound.Token));
            var ids = chunks.Select(c => c.GetProperty("id").GetString()).Distinct();
            Assert.Single(ids);
            Assert.Equal(5, chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            return (prompt, text: Sse.ChatText(chunks), id: ids.Single());
        }));

        Assert.All(texts, t => Assert.Equal(ScriptedBackend.ExpectedText(t.prompt), t.text));
        Assert.Equal(count, texts.Select(t => t.id).Distinct().Count());
        Assert.Equal(0, backend.ActiveCount);
    }
}
