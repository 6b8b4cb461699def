using System.Text.Json;

namespace Flywheel.LoadGen.Client;

/// <summary>Result of asking GET /v1/models before a run.</summary>
/// <param name="Reachable">A connection was made and some HTTP answer came back (any status).</param>
/// <param name="Error">Why the server is unreachable; null when reachable.</param>
/// <param name="Models">The model list (id and, where the server says it, vLLM's <c>max_model_len</c>); empty when none was listed.</param>
internal sealed record ServerProbeResult(bool Reachable, string? Error, IReadOnlyList<ListedModel> Models)
{
    /// <summary>data[0].id of the model list, when the server listed one.</summary>
    public string? FirstModelId => Models.Count > 0 ? Models[0].Id : null;

    /// <summary>The context length of <paramref name="model"/> (or of the only model listed when null), when the server gives it.</summary>
    public int? MaxModelLength(string? model) =>
        model is null ? (Models.Count == 1 ? Models[0].MaxModelLength : null)
        : Models.FirstOrDefault(m => m.Id == model)?.MaxModelLength;
}

/// <summary>One entry of GET /v1/models.</summary>
/// <param name="MaxModelLength">vLLM's <c>max_model_len</c> (prompt + output tokens), when the server lists it.</param>
internal sealed record ListedModel(string Id, int? MaxModelLength);

/// <summary>
/// Checks that the server answers before any load is sent, so a wrong URL fails in seconds with a
/// clear message instead of a run full of connection errors.
/// </summary>
internal static class ServerProbe
{
    public static async Task<ServerProbeResult> ProbeAsync(HttpClient http, ServerAddress server, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await http.GetAsync(server.Models, cts.Token);
            if (!response.IsSuccessStatusCode)
            {
                return new ServerProbeResult(true, null, []);
            }
            var text = await response.Content.ReadAsStringAsync(cts.Token);
            return new ServerProbeResult(true, null, ReadModels(text));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ServerProbeResult(false, $"no answer from {server.Models} within {timeout.TotalSeconds:0} s", []);
        }
        catch (HttpRequestException e)
        {
            return new ServerProbeResult(false, $"cannot reach {server.Models}: {e.Message}", []);
        }
    }

    private static List<ListedModel> ReadModels(string text)
    {
        var models = new List<ListedModel>();
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("data", out var data)
                || data.ValueKind != JsonValueKind.Array)
            {
                return models;
            }
            foreach (var entry in data.EnumerateArray())
            {
                if (entry.ValueKind == JsonValueKind.Object
                    && entry.TryGetProperty("id", out var id)
                    && id.ValueKind == JsonValueKind.String)
                {
                    int? length = entry.TryGetProperty("max_model_len", out var l) && l.ValueKind == JsonValueKind.Number
                        && l.TryGetInt32(out var n) && n > 0 ? n : null;
                    models.Add(new ListedModel(id.GetString()!, length));
                }
            }
        }
        catch (JsonException)
        {
            // A server that answers /v1/models with something else still serves; we just learn no name.
        }
        return models;
    }
}
