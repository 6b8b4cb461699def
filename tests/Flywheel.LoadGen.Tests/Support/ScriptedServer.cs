using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Flywheel.LoadGen.Tests.Support;

/// <summary>How the scripted server behaves.</summary>
/// <param name="Fail">Given the 1-based request number, an HTTP status to fail it with, or null to serve it.</param>
/// <param name="MaxModelLength">The model's <c>max_model_len</c> in /v1/models (as vLLM and Flywheel list it); null lists none.</param>
/// <param name="AdapterIds">More model ids listed after the base (as a server lists LoRA adapters).</param>
/// <param name="TtftByModel">A time to first token per requested model name, instead of <paramref name="Ttft"/>.</param>
internal sealed record ScriptedServerOptions(
    TimeSpan Ttft,
    TimeSpan Itl,
    Func<int, int?>? Fail = null,
    bool ServeMetrics = false,
    int PromptOverheadTokens = 5,
    int? MaxModelLength = null,
    IReadOnlyList<string>? AdapterIds = null,
    IReadOnlyDictionary<string, TimeSpan>? TtftByModel = null);

/// <summary>
/// A tiny OpenAI-compatible server on 127.0.0.1 (random port) with known timing: the first content
/// chunk after <see cref="ScriptedServerOptions.Ttft"/>, then one token per chunk every
/// <see cref="ScriptedServerOptions.Itl"/>, exactly max_tokens of them, then usage and [DONE].
/// It records every request body and every status it chose, so tests can check both sides.
/// </summary>
internal sealed class ScriptedServer : IAsyncDisposable
{
    public const string ModelId = "scripted-model";

    private readonly WebApplication _app;
    private readonly ScriptedServerOptions _options;
    private int _requestNumber;
    private long _promptTokens, _generationTokens, _successes, _ttftCount;
    private double _ttftSum;
    private readonly object _gate = new();

    private ScriptedServer(WebApplication app, ScriptedServerOptions options)
    {
        _app = app;
        _options = options;
    }

    public string Url { get; private set; } = "";

    public ConcurrentQueue<JsonElement> Bodies { get; } = new();

    public ConcurrentDictionary<int, int> StatusCounts { get; } = new();

    public static async Task<ScriptedServer> StartAsync(ScriptedServerOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new ScriptedServer(app, options);
        var ids = new[] { ModelId }.Concat(options.AdapterIds ?? []).ToArray();
        app.MapGet("/v1/models", () => options.MaxModelLength is { } length
            ? Results.Json(new { @object = "list", data = ids.Select(id => new { id, @object = "model", max_model_len = length }) })
            : Results.Json(new { @object = "list", data = ids.Select(id => new { id, @object = "model" }) }));
        app.MapPost("/v1/chat/completions", (HttpContext context) => server.ServeAsync(context, chat: true));
        app.MapPost("/v1/completions", (HttpContext context) => server.ServeAsync(context, chat: false));
        if (options.ServeMetrics)
        {
            app.MapGet("/metrics", () => Results.Text(server.RenderMetrics(), "text/plain; version=0.0.4"));
        }
        await app.StartAsync();
        server.Url = app.Urls.First();
        return server;
    }

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    private async Task ServeAsync(HttpContext context, bool chat)
    {
        var body = (await JsonDocument.ParseAsync(context.Request.Body)).RootElement.Clone();
        Bodies.Enqueue(body);
        var number = Interlocked.Increment(ref _requestNumber);
        if (_options.Fail?.Invoke(number) is { } status)
        {
            StatusCounts.AddOrUpdate(status, 1, (_, n) => n + 1);
            context.Response.StatusCode = status;
            await context.Response.WriteAsJsonAsync(new { error = new { message = $"scripted failure {status}", type = "server_error" } });
            return;
        }
        StatusCounts.AddOrUpdate(200, 1, (_, n) => n + 1);

        var maxTokens = body.GetProperty("max_tokens").GetInt32();
        var text = chat ? body.GetProperty("messages")[0].GetProperty("content").GetString()! : body.GetProperty("prompt").GetString()!;
        var promptTokens = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length + (chat ? _options.PromptOverheadTokens : 0);
        var usage = $"{{\"prompt_tokens\":{promptTokens},\"completion_tokens\":{maxTokens},\"total_tokens\":{promptTokens + maxTokens}}}";
        var started = DateTime.UtcNow;
        var stream = body.TryGetProperty("stream", out var s) && s.GetBoolean();
        if (!stream)
        {
            await Task.Delay(_options.Ttft + _options.Itl * (maxTokens - 1), context.RequestAborted);
            var content = string.Concat(Enumerable.Repeat("tok ", maxTokens));
            var choice = chat ? $"{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{content}\"}},\"finish_reason\":\"length\"}}"
                : $"{{\"index\":0,\"text\":\"{content}\",\"finish_reason\":\"length\"}}";
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync($"{{\"id\":\"x\",\"choices\":[{choice}],\"usage\":{usage}}}");
            Record(promptTokens, maxTokens, (DateTime.UtcNow - started).TotalSeconds);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        if (chat)
        {
            await SendAsync(context, "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}");
        }
        var model = body.TryGetProperty("model", out var m) ? m.GetString() : null;
        await Task.Delay(model is not null && _options.TtftByModel?.GetValueOrDefault(model) is { } modelTtft && modelTtft > TimeSpan.Zero
            ? modelTtft : _options.Ttft, context.RequestAborted);
        var ttft = (DateTime.UtcNow - started).TotalSeconds;
        for (var i = 0; i < maxTokens; i++)
        {
            if (i > 0)
            {
                await Task.Delay(_options.Itl, context.RequestAborted);
            }
            await SendAsync(context, chat
                ? $"{{\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"t{i} \"}},\"finish_reason\":null}}]}}"
                : $"{{\"choices\":[{{\"index\":0,\"text\":\"t{i} \",\"finish_reason\":null}}]}}");
        }
        await SendAsync(context, $"{{\"choices\":[],\"usage\":{usage}}}");
        await SendAsync(context, "[DONE]");
        Record(promptTokens, maxTokens, ttft);
    }

    private static async Task SendAsync(HttpContext context, string data)
    {
        await context.Response.WriteAsync($"data: {data}\n\n", Encoding.UTF8, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private void Record(int promptTokens, int outputTokens, double ttftSeconds)
    {
        lock (_gate)
        {
            _promptTokens += promptTokens;
            _generationTokens += outputTokens;
            _successes++;
            _ttftCount++;
            _ttftSum += ttftSeconds;
        }
    }

    private string RenderMetrics()
    {
        lock (_gate)
        {
            return string.Create(CultureInfo.InvariantCulture, $$"""
                # HELP flywheel_prompt_tokens_total Prompt tokens processed.
                # TYPE flywheel_prompt_tokens_total counter
                flywheel_prompt_tokens_total{model_name="{{ModelId}}"} {{_promptTokens}}
                # TYPE flywheel_generation_tokens_total counter
                flywheel_generation_tokens_total{model_name="{{ModelId}}"} {{_generationTokens}}
                # TYPE flywheel_request_success_total counter
                flywheel_request_success_total{model_name="{{ModelId}}",finish_reason="length"} {{_successes}}
                flywheel_request_success_total{model_name="{{ModelId}}",finish_reason="stop"} 0
                # TYPE flywheel_time_to_first_token_seconds histogram
                flywheel_time_to_first_token_seconds_bucket{model_name="{{ModelId}}",le="+Inf"} {{_ttftCount}}
                flywheel_time_to_first_token_seconds_sum{model_name="{{ModelId}}"} {{_ttftSum}}
                flywheel_time_to_first_token_seconds_count{model_name="{{ModelId}}"} {{_ttftCount}}

                """);
        }
    }
}
