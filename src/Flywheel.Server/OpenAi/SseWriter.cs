using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Writes a server-sent-event stream the way OpenAI does: one <c>data: {json}\n\n</c> event per chunk, no
/// event names or ids, <c>data: [DONE]\n\n</c> at the end; every event flushed to the socket at once.
/// </summary>
internal sealed class SseWriter
{
    private readonly HttpResponse _response;
    private readonly PipeWriter _body;
    private readonly Utf8JsonWriter _json;

    public SseWriter(HttpResponse response)
    {
        _response = response;
        _body = response.BodyWriter;
        _json = new Utf8JsonWriter(_body);
    }

    /// <summary>Sends the 200 header block; from here on errors can only travel inside the stream.</summary>
    public async ValueTask StartAsync()
    {
        _response.StatusCode = StatusCodes.Status200OK;
        _response.ContentType = "text/event-stream; charset=utf-8";
        _response.Headers.CacheControl = "no-cache";
        _response.Headers["X-Accel-Buffering"] = "no"; // tells nginx-style proxies not to buffer
        _response.HttpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await _response.StartAsync().ConfigureAwait(false);
        // Kestrel keeps the header block in the pipe until the first flush. Without this a request that
        // waits in the engine's queue (completions have no opening chunk) leaves its client with no
        // response at all until its first token, which looks like a hung server to clients with timeouts.
        await _body.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>Writes <c>data: {json}\n\n</c> and flushes.</summary>
    public ValueTask<FlushResult> WriteAsync<T>(T value)
    {
        _body.Write("data: "u8);
        _json.Reset(_body);
        JsonSerializer.Serialize(_json, value, OpenAiJson.Options);
        _json.Flush();
        _body.Write("\n\n"u8);
        return _body.FlushAsync();
    }

    /// <summary>An error inside the stream (as vLLM sends it), followed by nothing but [DONE].</summary>
    public ValueTask<FlushResult> WriteErrorAsync(OpenAiError error) => WriteAsync(error.ToEnvelope());

    public ValueTask<FlushResult> WriteDoneAsync()
    {
        _body.Write("data: [DONE]\n\n"u8);
        return _body.FlushAsync();
    }
}
