using System.Net;
using System.Text;
using System.Text.Json;
using Flywheel.Server.Tests.Testing;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.OpenAi;

/// <summary>Every refusal is <c>{"error":{message,type,param,code}}</c> with the right status.</summary>
public sealed class ErrorResponseTests
{
    [Fact]
    public async Task MalformedJsonIs400WithTheParseErrorAndNoStackTrace()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", """{"model": "test-model", "messages": [}""");

        var error = await ErrorAsync(response, HttpStatusCode.BadRequest, "invalid_json");
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("not valid JSON", message);
        Assert.Contains("LineNumber", message);
        Assert.DoesNotContain(" at ", message);
    }

    [Theory]
    [InlineData("""{"model":"test-model","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", "temperature", "invalid_type")]
    [InlineData("""{"model":"test-model","messages":[{"role":"user","content":"x"}],"temperature":9}""", "temperature", null)]
    [InlineData("""{"model":"test-model","messages":[{"role":"user","content":"x"}],"temprature":1}""", "temprature", "unknown_parameter")]
    [InlineData("""{"model":"test-model"}""", "messages", null)]
    [InlineData("""[1,2]""", null, null)]
    public async Task InvalidParametersAre400NamingTheParameter(string body, string? param, string? code)
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", body);

        var error = await ErrorAsync(response, HttpStatusCode.BadRequest, code);
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task PromptLongerThanContextIs400()
    {
        await using var server = await StartAsync(backend: new ScriptedBackend(Model, contextLength: 8));
        using var tooLong = await server.PostAsync("/v1/completions", Completion("1 2 3 4 5 6 7 8 9"));
        using var tooMuch = await server.PostAsync("/v1/completions", Completion("1 2 3", ""","max_tokens":6"""));

        var error = await ErrorAsync(tooLong, HttpStatusCode.BadRequest, "context_length_exceeded");
        Assert.Contains("maximum context length is 8 tokens", error.GetProperty("message").GetString());
        Assert.Equal("prompt", error.GetProperty("param").GetString());
        error = await ErrorAsync(tooMuch, HttpStatusCode.BadRequest, "context_length_exceeded");
        Assert.Contains("you requested 9 tokens (3 in the prompt, 6 in the completion)", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task TemplateRefusalIs400()
    {
        var backend = new ScriptedBackend(Model) { Template = Flywheel.Templates.ChatTemplate.Parse("{{ raise_exception('roles must alternate') }}") };
        await using var server = await StartAsync(backend: backend);
        using var response = await server.PostAsync("/v1/chat/completions", Chat("x"));

        var error = await ErrorAsync(response, HttpStatusCode.BadRequest, "chat_template_error");
        Assert.Contains("roles must alternate", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task UnknownModelIs404()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/completions", """{"model":"gpt-4","prompt":"x"}""");

        var error = await ErrorAsync(response, HttpStatusCode.NotFound, "model_not_found");
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Contains("gpt-4", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task UnknownRouteIs404AndWrongMethodIs405()
    {
        await using var server = await StartAsync();
        using var unknown = await server.PostAsync("/v1/chat/complete", Chat("x"));
        using var wrongMethod = await server.Client.GetAsync("/v1/chat/completions");

        Assert.Contains("/v1/chat/complete", (await ErrorAsync(unknown, HttpStatusCode.NotFound, "unknown_url")).GetProperty("message").GetString());
        await ErrorAsync(wrongMethod, HttpStatusCode.MethodNotAllowed, "method_not_allowed");
    }

    [Fact]
    public async Task OversizedBodyIs413()
    {
        await using var server = await StartAsync(o => o.MaxRequestBodyBytes = 1024);
        using var response = await server.PostAsync("/v1/completions", Completion(new string('x', 2000)));

        await ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Fact]
    public async Task OversizedChunkedBodyIs413()
    {
        await using var server = await StartAsync(o => o.MaxRequestBodyBytes = 1024);
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(Completion(new string('x', 2000)))));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await server.Client.SendAsync(request);

        await ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "request_too_large");
    }

    [Fact]
    public async Task NonJsonContentTypeIs415()
    {
        await using var server = await StartAsync();
        using var response = await server.Client.SendAsync(Post("/v1/completions", Completion("x"), "text/plain"));

        await ErrorAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type");
    }

    [Fact]
    public async Task FullQueueIs429WithRetryAfter()
    {
        var backend = new ScriptedBackend(Model) { Capacity = 1, RetryAfterSeconds = 3 };
        backend.Pause();
        await using var server = await StartAsync(backend: backend);
        using var first = await server.PostAsync("/v1/chat/completions", Chat("a", ""","stream":true"""));
        using var second = await server.PostAsync("/v1/chat/completions", Chat("b"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await ErrorAsync(second, HttpStatusCode.TooManyRequests, "queue_full");
        Assert.Equal(TimeSpan.FromSeconds(3), second.Headers.RetryAfter?.Delta);
        backend.Resume();
        Assert.Equal(" a", Sse.ChatText(await Sse.ReadAllAsync(first)));
    }

    [Fact]
    public async Task NotReadyIs503()
    {
        await using var server = await StartAsync(backend: new ScriptedBackend(Model) { IsReady = false });
        using var response = await server.PostAsync("/v1/chat/completions", Chat("x"));

        await ErrorAsync(response, HttpStatusCode.ServiceUnavailable, "model_loading");
    }

    [Fact]
    public async Task UnexpectedExceptionIs500WithoutDetails()
    {
        var backend = new ScriptedBackend(Model) { PrepareException = new InvalidOperationException("secret internal detail") };
        await using var server = await StartAsync(backend: backend);
        using var response = await server.PostAsync("/v1/chat/completions", Chat("x"));

        var raw = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.DoesNotContain("secret", raw);
        Assert.DoesNotContain("InvalidOperationException", raw);
        Assert.Equal("server_error", JsonDocument.Parse(raw).RootElement.GetProperty("error").GetProperty("type").GetString());
    }

    [Fact]
    public async Task EngineErrorIs500WhenNotStreaming()
    {
        await using var server = await StartAsync(backend: new ScriptedBackend(Model) { FailAfterTokens = 1 });
        using var response = await server.PostAsync("/v1/completions", Completion("a b c"));

        var error = await ErrorAsync(response, HttpStatusCode.InternalServerError, "engine_error");
        Assert.Contains("scripted failure", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task EngineErrorMidStreamSendsErrorEventThenDone()
    {
        await using var server = await StartAsync(backend: new ScriptedBackend(Model) { FailAfterTokens = 1 });
        using var response = await server.PostAsync("/v1/chat/completions", Chat("a b c", ""","stream":true"""));

        var events = await Sse.ReadAllAsync(response);
        Assert.Equal(3, events.Count); // role, " a", error
        Assert.Equal(" a", Sse.ChatText(events.Take(2)));
        var error = Assert.Single(events[2].EnumerateObject());
        Assert.Equal("error", error.Name);
        Assert.Equal("engine_error", error.Value.GetProperty("code").GetString());
        Assert.Equal("server_error", error.Value.GetProperty("type").GetString());
    }

    internal static async Task<JsonElement> ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string? code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await JsonAsync(response);
        var error = Assert.Single(body.EnumerateObject());
        Assert.Equal("error", error.Name);
        Assert.Equal(["message", "type", "param", "code"], error.Value.EnumerateObject().Select(p => p.Name));
        Assert.Equal(code, error.Value.GetProperty("code").GetString());
        return error.Value;
    }
}
