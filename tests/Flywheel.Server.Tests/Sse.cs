using System.Text;
using System.Text.Json;

namespace Flywheel.Server.Tests;

/// <summary>Strict reader of OpenAI-style SSE: only <c>data: ...\n\n</c> events, ending with <c>[DONE]</c>.</summary>
internal static class Sse
{
    /// <summary>The JSON payloads of a complete stream; fails on any framing deviation.</summary>
    public static IReadOnlyList<JsonElement> Parse(string body)
    {
        Assert.EndsWith("data: [DONE]\n\n", body);
        var events = body.Split("\n\n");
        Assert.Equal("", events[^1]);
        var payloads = new List<JsonElement>();
        foreach (var e in events[..^2])
        {
            Assert.StartsWith("data: ", e);
            Assert.DoesNotContain('\n', e);
            payloads.Add(JsonDocument.Parse(e["data: ".Length..]).RootElement);
        }

        Assert.Equal("data: [DONE]", events[^2]);
        return payloads;
    }

    public static async Task<IReadOnlyList<JsonElement>> ReadAllAsync(HttpResponseMessage response)
    {
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Reads one event (without waiting for the stream's end).</summary>
    public static async Task<string> ReadEventAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                return text.ToString();
            }

            text.Append(line);
        }

        throw new EndOfStreamException("stream ended before the event was complete");
    }

    /// <summary>Concatenated chat content deltas.</summary>
    public static string ChatText(IEnumerable<JsonElement> chunks) =>
        string.Concat(chunks
            .Where(c => c.GetProperty("choices").GetArrayLength() > 0)
            .Select(c => c.GetProperty("choices")[0].GetProperty("delta"))
            .Where(d => d.TryGetProperty("content", out _))
            .Select(d => d.GetProperty("content").GetString()));
}
