using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Client;

/// <summary>
/// Sends planned requests to an OpenAI-compatible server and measures them from the response
/// stream. <see cref="SendAsync"/> never throws: every failure becomes a record with an error kind.
/// Thread-safe (one shared <see cref="HttpClient"/>).
/// </summary>
internal sealed class OpenAiClient(HttpClient http, ServerAddress server, string? model)
{
    /// <param name="onContentChunk">Called on the sending task for every content chunk (live tokens/s).</param>
    /// <param name="stop">Run-wide stop: requests cut by it are recorded as "cancelled".</param>
    public async Task<RequestRecord> SendAsync(
        RequestPlan plan, RequestContext context, Action? onContentChunk, CancellationToken stop)
    {
        var body = RequestBodyWriter.Write(plan, plan.Model ?? model);
        var url = plan.Endpoint == ApiEndpoint.Chat ? server.ChatCompletions : server.Completions;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
        timeout.CancelAfter(context.Timeout);

        var sent = Stopwatch.GetTimestamp();
        var m = new RequestMeasurement(plan, sent);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            m.HttpStatus = (int)response.StatusCode;
            if (!response.IsSuccessStatusCode)
            {
                m.Fail($"http_{(int)response.StatusCode}", await ReadErrorMessageAsync(response, timeout.Token));
            }
            else if (plan.Stream)
            {
                await ReadEventStreamAsync(response, plan.Endpoint, m, onContentChunk, timeout.Token);
            }
            else
            {
                await ReadJsonResponseAsync(response, plan.Endpoint, m, timeout.Token);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            m.Fail("cancelled", "the run's time limit or the user stopped the run");
        }
        catch (OperationCanceledException)
        {
            m.Fail("timeout", $"no complete response within {context.Timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            m.Fail(e.HttpRequestError switch
            {
                HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError => "connection_error",
                HttpRequestError.ResponseEnded => "connection_closed",
                _ => "http_error",
            }, e.Message);
        }
        catch (IOException e)
        {
            m.Fail("connection_closed", e.Message);
        }
        catch (JsonException e)
        {
            m.Fail("bad_response", "response is not the expected JSON: " + e.Message);
        }
        return m.ToRecord(context.Step, context.IsWarmup, context.StartSeconds, Stopwatch.GetTimestamp());
    }

    private static async Task ReadEventStreamAsync(
        HttpResponseMessage response, ApiEndpoint endpoint, RequestMeasurement m, Action? onContentChunk, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var done = false;
        // One event per "data:" line, which is how OpenAI-compatible servers send chunks;
        // comments (":"), "event:" and blank separator lines carry nothing we measure.
        while (!done && !m.Failed && await reader.ReadLineAsync(ct) is { } line)
        {
            if (!line.StartsWith("data:", StringComparison.Ordinal))
            {
                continue;
            }
            var arrived = Stopwatch.GetTimestamp();
            var data = line.AsSpan(5).Trim();
            if (data.SequenceEqual("[DONE]"))
            {
                done = true;
                continue;
            }
            using var chunk = JsonDocument.Parse(data.ToString());
            if (ChunkReader.TryGetError(chunk.RootElement, out var error))
            {
                m.Fail("stream_error", error);
                break;
            }
            if (ChunkReader.HasContent(chunk.RootElement, endpoint, streaming: true))
            {
                m.OnContent(arrived);
                onContentChunk?.Invoke();
            }
            m.ReadUsage(chunk.RootElement);
        }

        if (!done)
        {
            m.Fail("incomplete_stream", "the event stream ended without data: [DONE]");
        }
        else if (m.ContentChunkCount == 0)
        {
            m.Fail("empty_output", "the stream carried no content");
        }
    }

    private static async Task ReadJsonResponseAsync(
        HttpResponseMessage response, ApiEndpoint endpoint, RequestMeasurement m, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        var arrived = Stopwatch.GetTimestamp();
        m.OnComplete(arrived);
        using var document = JsonDocument.Parse(text);
        if (ChunkReader.TryGetError(document.RootElement, out var error))
        {
            m.Fail("response_error", error);
            return;
        }
        if (!ChunkReader.HasContent(document.RootElement, endpoint, streaming: false))
        {
            m.Fail("empty_output", "the response carried no content");
            return;
        }
        // Without streaming the first token is only seen with the last: TTFT = e2e, no gaps.
        m.OnContent(arrived);
        m.ReadUsage(document.RootElement);
    }

    private static async Task<string> ReadErrorMessageAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var text = await response.Content.ReadAsStringAsync(ct);
        try
        {
            using var document = JsonDocument.Parse(text);
            if (ChunkReader.TryGetError(document.RootElement, out var message))
            {
                return message;
            }
        }
        catch (JsonException)
        {
            // Not JSON: the raw text is the best message there is.
        }
        return text.Length > 0 ? text : response.ReasonPhrase ?? "";
    }
}

/// <summary>Where a request belongs in the run, for its record.</summary>
internal readonly record struct RequestContext(int Step, bool IsWarmup, double StartSeconds, TimeSpan Timeout);
