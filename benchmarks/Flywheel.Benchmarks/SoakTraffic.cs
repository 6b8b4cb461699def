using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Flywheel.Benchmarks;

/// <summary>
/// The soak's clients: each sends one request after another, drawn from the mix of issue 13 item 9:
/// 40% plain chat, 20% streaming chat read to the end, 15% streams cut after 200 bytes, and 25%
/// json_schema requests whose schema is new each time (new property names, bounds and enums, so no
/// compile cache can hold them). Counts outcomes by status; thread-safe.
/// </summary>
internal sealed class SoakTraffic(HttpClient http, Uri server, string model)
{
    private static readonly string[] Words =
        ["the", "river", "model", "data", "city", "light", "music", "paper", "story", "green", "value", "order", "power", "early", "world", "house"];

    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);
    private long _schemaSerial;

    /// <summary>Outcome counts so far ("200", "400", "500", "cut", "error: ..."), copied.</summary>
    public SortedDictionary<string, long> Snapshot()
    {
        lock (_counts)
        {
            return new SortedDictionary<string, long>(_counts, StringComparer.Ordinal);
        }
    }

    /// <summary>One client: requests until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunClientAsync(int seed, CancellationToken ct)
    {
        var rng = new Random(seed);
        while (!ct.IsCancellationRequested)
        {
            var pick = rng.NextDouble();
            string outcome;
            try
            {
                outcome = pick < 0.40 ? await PlainAsync(rng, ct)
                    : pick < 0.60 ? await StreamAsync(rng, cutAfterBytes: null, ct)
                    : pick < 0.75 ? await StreamAsync(rng, cutAfterBytes: 200, ct)
                    : await StructuredAsync(rng, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
            {
                outcome = "error: " + e.GetType().Name;
            }

            lock (_counts)
            {
                _counts[outcome] = _counts.GetValueOrDefault(outcome) + 1;
            }
        }
    }

    private async Task<string> PlainAsync(Random rng, CancellationToken ct)
    {
        using var response = await http.SendAsync(Post(Body(rng, maxTokens: rng.Next(8, 48), stream: false)), ct);
        await response.Content.ReadAsByteArrayAsync(ct);
        return Status(response);
    }

    private async Task<string> StreamAsync(Random rng, int? cutAfterBytes, CancellationToken ct)
    {
        var body = Body(rng, maxTokens: cutAfterBytes is null ? rng.Next(16, 96) : 512, stream: true);
        using var response = await http.SendAsync(Post(body), HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            await response.Content.ReadAsByteArrayAsync(ct);
            return Status(response);
        }

        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[4096];
        var total = 0;
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            total += read;
            if (cutAfterBytes is { } cut && total >= cut)
            {
                return "cut"; // disposing the response here drops the connection mid-stream
            }
        }

        return Status(response);
    }

    private async Task<string> StructuredAsync(Random rng, CancellationToken ct)
    {
        var serial = Interlocked.Increment(ref _schemaSerial);
        var body = Body(rng, maxTokens: 96, stream: false, NewSchema(rng, serial));
        using var response = await http.SendAsync(Post(body), ct);
        await response.Content.ReadAsByteArrayAsync(ct);
        return Status(response);
    }

    /// <summary>A schema no earlier request used: serial-numbered property names, random bounds and enum values.</summary>
    private static string NewSchema(Random rng, long serial)
    {
        var s = serial.ToString(CultureInfo.InvariantCulture);
        var min = rng.Next(-1000, 1000);
        var (max, nameLength, kind, scoreMin, items) = (min + rng.Next(1, 100_000), rng.Next(4, 24), rng.Next(100), rng.Next(0, 10), rng.Next(1, 4));
        return string.Create(CultureInfo.InvariantCulture,
            $"{{\"type\":\"object\",\"properties\":{{" +
            $"\"id_{s}\":{{\"type\":\"integer\",\"minimum\":{min},\"maximum\":{max}}}," +
            $"\"name_{s}\":{{\"type\":\"string\",\"maxLength\":{nameLength}}}," +
            $"\"kind_{s}\":{{\"enum\":[\"a{s}\",\"b{kind}\",\"c\"]}}," +
            $"\"score_{s}\":{{\"type\":\"number\",\"minimum\":{scoreMin}}}," +
            $"\"tags_{s}\":{{\"type\":\"array\",\"items\":{{\"type\":\"string\",\"maxLength\":8}},\"maxItems\":{items}}}}}," +
            $"\"required\":[\"id_{s}\",\"name_{s}\",\"kind_{s}\"],\"additionalProperties\":false}}");
    }

    private string Body(Random rng, int maxTokens, bool stream, string? schema = null)
    {
        var prompt = string.Join(' ', Enumerable.Range(0, rng.Next(8, 120)).Select(_ => Words[rng.Next(Words.Length)]));
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", model);
            json.WriteStartArray("messages");
            json.WriteStartObject();
            json.WriteString("role", "user");
            json.WriteString("content", prompt);
            json.WriteEndObject();
            json.WriteEndArray();
            json.WriteNumber("max_tokens", maxTokens);
            json.WriteBoolean("stream", stream);
            if (schema is not null)
            {
                json.WriteStartObject("response_format");
                json.WriteString("type", "json_schema");
                json.WriteStartObject("json_schema");
                json.WriteString("name", "soak");
                json.WritePropertyName("schema");
                json.WriteRawValue(schema);
                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private HttpRequestMessage Post(string body) => new(HttpMethod.Post, new Uri(server, "v1/chat/completions"))
    {
        Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
    };

    private static string Status(HttpResponseMessage response) => ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
}
