using System.Net;
using System.Text;
using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Tests.OpenAi;

namespace Flywheel.Server.Tests.Hosting;

/// <summary>
/// Every refusal the API promises, against the real engine backend rather than the scripted one: the
/// error shape and status, and an engine left idle and still serving afterwards.
/// </summary>
public sealed class EngineRefusalTests : IAsyncLifetime
{
    private const int BodyLimitBytes = 16 * 1024;

    private EngineServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await EngineServer.StartAsync("server-tiny", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new EngineOptions(),
            configure: o => o.MaxRequestBodyBytes = BodyLimitBytes);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"$M","messages":[{"role":"user","content":"x"}""", HttpStatusCode.BadRequest, "invalid_json", null)]
    [InlineData("/v1/chat/completions", """{"model":"$M","messages":[{"role":"user","content":"x"}],"max_tokens":"many"}""", HttpStatusCode.BadRequest, "invalid_type", "max_tokens")]
    [InlineData("/v1/chat/completions", """{"model":"$M","messages":[{"role":"user","content":"x"}],"top_p":1.5}""", HttpStatusCode.BadRequest, null, "top_p")]
    [InlineData("/v1/completions", """{"model":"$M","prompt":"x","max_tokens":0}""", HttpStatusCode.BadRequest, null, "max_tokens")]
    [InlineData("/v1/completions", """{"model":"$M","prompt":"x","suffix_tokens":2}""", HttpStatusCode.BadRequest, "unknown_parameter", "suffix_tokens")]
    [InlineData("/v1/completions", """{"model":"$M","prompt":"x","max_tokens":300}""", HttpStatusCode.BadRequest, "context_length_exceeded", null)]
    [InlineData("/v1/completions", """{"model":"gpt-4","prompt":"x"}""", HttpStatusCode.NotFound, "model_not_found", "model")]
    [InlineData("/v1/embeddings", """{"model":"$M","input":"x"}""", HttpStatusCode.NotFound, "unknown_url", null)]
    public async Task RefusalsAreOpenAiShapedAndLeaveTheEngineServing(string path, string body, HttpStatusCode status, string? code, string? param)
    {
        var model = _server.Model.Name;
        using var response = await _server.Client.PostAsync(path, new StringContent(body.Replace("$M", model, StringComparison.Ordinal), Encoding.UTF8, "application/json"));

        var error = await ErrorResponseTests.ErrorAsync(response, status, code);
        if (param is not null)
        {
            Assert.Equal(param, error.GetProperty("param").GetString());
            Assert.Contains(param, error.GetProperty("message").GetString());
        }

        await AssertStillServingAsync();
    }

    [Fact]
    public async Task OversizedBodyIs413BeforeTheUpload()
    {
        // The client asks first (Expect: 100-continue, as curl does for big bodies); the server answers
        // 413 from Content-Length without taking the body. A client that sends a big body unasked may see
        // the connection reset after the 413 instead: Kestrel closes it rather than read the rest.
        var body = $$"""{"model":"{{_server.Model.Name}}","prompt":"{{new string('x', 4 * BodyLimitBytes)}}"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var response = await _server.Client.SendAsync(request);

        var error = await ErrorResponseTests.ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
        Assert.Contains(BodyLimitBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), error.GetProperty("message").GetString());
        await AssertStillServingAsync();
    }

    private async Task AssertStillServingAsync()
    {
        var model = _server.Model.Name;
        Assert.Equal(0, _server.Backend.Engine.RunningCount);
        Assert.Equal(0, _server.Backend.Engine.WaitingCount);
        using var ok = await _server.Client.PostAsync("/v1/completions", new StringContent($$"""{"model":"{{model}}","prompt":"still fine","max_tokens":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}

/// <summary>The engine's bounded queue as the API shows it: 429 with Retry-After once it is full, open again when it empties.</summary>
public sealed class EngineQueueFullTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task FullEngineQueueIs429WithRetryAfterUntilRequestsLeave()
    {
        // One running slot, at most one request taken in for admission and one in the bounded channel:
        // with one running, the second or third more (depending on whether the engine took one in
        // already) finds the queue full.
        await using var server = await EngineServer.StartAsync("server-long", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 32768 },
            new EngineOptions { MaxRunningRequests = 1, QueueCapacity = 1, MaxBatchTokens = 16 });
        var (model, engine) = (server.Model.Name, server.Backend.Engine);
        // The engine's first step is held until the refusal is seen: with no step measured, Retry-After is the
        // estimate's floor of 1 s whatever the timing. Left running, the estimate scales with the seconds the
        // requests took to arrive, which on a busy host made it 2-3 s.
        using var firstStep = new ManualResetEventSlim();
        engine.BeforeStep = _ => firstStep.Wait(Bound);
        var endless = $$"""{"model":"{{model}}","prompt":"go on","max_tokens":32000,"ignore_eos":true,"stream":true}""";
        using var cancel = new CancellationTokenSource();
        var accepted = new List<HttpResponseMessage>();
        try
        {
            accepted.Add(await PostStreamAsync(server, endless, cancel.Token));
            await WaitUntilAsync(() => engine.RunningCount == 1);
            HttpResponseMessage? refused = null;
            while (refused is null && accepted.Count < 4)
            {
                var response = await PostStreamAsync(server, endless, cancel.Token);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    refused = response;
                }
                else
                {
                    accepted.Add(response);
                }
            }

            Assert.NotNull(refused);
            using (refused)
            {
                Assert.InRange(accepted.Count, 2, 3);
                Assert.All(accepted, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
                Assert.Equal(1, engine.RunningCount);
                Assert.Equal(accepted.Count - 1, engine.WaitingCount);
                await ErrorResponseTests.ErrorAsync(refused, HttpStatusCode.TooManyRequests, "queue_full");
                Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
                var metrics = await server.Client.GetStringAsync("/metrics");
                var rejected = metrics.Split('\n').Single(l => l.StartsWith("flywheel_requests_rejected", StringComparison.Ordinal) && l.Contains("reason=\"queue_full\"", StringComparison.Ordinal));
                Assert.Equal(1, double.Parse(rejected[(rejected.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        finally
        {
            engine.BeforeStep = null;
            firstStep.Set();
            await cancel.CancelAsync();
            accepted.ForEach(r => r.Dispose());
        }

        // The clients left: the engine drops all three and takes requests again.
        await WaitUntilAsync(() => engine.RunningCount == 0 && engine.WaitingCount == 0, () => $"after leaving: waiting {engine.WaitingCount}, running {engine.RunningCount}");
        Assert.Equal(0, engine.KvCacheUsage);
        using var ok = await server.Client.PostAsync("/v1/completions", new StringContent($$"""{"model":"{{model}}","prompt":"now","max_tokens":2}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    internal static async Task<HttpResponseMessage> PostStreamAsync(EngineServer server, string body, CancellationToken cancellationToken)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        return await server.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, Func<string>? state = null)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting; {state?.Invoke()}");
            await Task.Delay(5);
        }
    }
}

/// <summary>Graceful shutdown over the real engine: 503 while draining, running requests finish or are aborted, slots freed.</summary>
public sealed class EngineDrainTests
{
    private static readonly ModelBuilderOptions LongModel = ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 32768 };

    [Fact]
    public async Task DrainRefusesNewRequestsWhileARunningOneFinishes()
    {
        await using var server = await EngineServer.StartAsync("server-long", LongModel, new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 16 },
            configure: o => o.DrainTimeout = TimeSpan.FromSeconds(60));
        var (model, engine) = (server.Model.Name, server.Backend.Engine);

        // A generation that lasts about two seconds on this machine, so the drain certainly overlaps it.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (var warm = await server.Client.PostAsync("/v1/completions", new StringContent($$"""{"model":"{{model}}","prompt":"go","max_tokens":200,"ignore_eos":true}""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var maxTokens = (int)Math.Clamp(200 * 2.0 / clock.Elapsed.TotalSeconds, 400, 30000);
        var body = $$$"""{"model":"{{{model}}}","prompt":"go on","max_tokens":{{{maxTokens}}},"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}}""";
        using var inFlight = await EngineQueueFullTests.PostStreamAsync(server, body, CancellationToken.None);
        var reader = new StreamReader(await inFlight.Content.ReadAsStreamAsync());
        await Sse.ReadEventAsync(reader);

        var stopping = server.App.StopAsync();
        using var refused = await server.Client.PostAsync("/v1/completions", new StringContent($$"""{"model":"{{model}}","prompt":"late","max_tokens":2}""", Encoding.UTF8, "application/json"));
        using var ready = await server.Client.GetAsync("/health/ready");
        var stillRunning = engine.RunningCount;
        await ErrorResponseTests.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "server_shutdown");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal(1, stillRunning);

        var events = Sse.Parse("data: {}\n\n" + await reader.ReadToEndAsync());
        Assert.Equal("length", events[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(maxTokens, events[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, engine.KvCacheUsage);
    }

    [Fact]
    public async Task RequestsOutlastingTheDrainTimeoutAreAbortedInTheEngine()
    {
        await using var server = await EngineServer.StartAsync("server-long", LongModel, new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 16 },
            configure: o => o.DrainTimeout = TimeSpan.FromMilliseconds(500));
        var (model, engine) = (server.Model.Name, server.Backend.Engine);
        var body = $$"""{"model":"{{model}}","prompt":"go on","max_tokens":32000,"ignore_eos":true,"stream":true}""";
        using var inFlight = await EngineQueueFullTests.PostStreamAsync(server, body, CancellationToken.None);
        var reader = new StreamReader(await inFlight.Content.ReadAsStreamAsync());
        await Sse.ReadEventAsync(reader);

        var stopping = server.App.StopAsync();
        var events = Sse.Parse("data: {}\n\n" + await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("server_shutdown", events[^1].GetProperty("error").GetProperty("code").GetString());
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        await EngineQueueFullTests.WaitUntilAsync(() => engine.RunningCount == 0);
        Assert.Equal(0, engine.KvCacheUsage);
        var steps = engine.StepCount;
        await Task.Delay(100);
        Assert.Equal(steps, engine.StepCount);
    }
}
