using System.Text.Json;

namespace Flywheel.LoadGen.Client;

/// <summary>Result of asking GET /v1/models before a run.</summary>
/// <param name="Reachable">A connection was made and some HTTP answer came back (any status).</param>
/// <param name="Error">Why the server is unreachable; null when reachable.</param>
/// <param name="FirstModelId">data[0].id of the model list, when the server listed one.</param>
internal sealed record ServerProbeResult(bool Reachable, string? Error, string? FirstModelId);

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
                return new ServerProbeResult(true, null, null);
            }
            var text = await response.Content.ReadAsStringAsync(cts.Token);
            return new ServerProbeResult(true, null, TryReadFirstModel(text));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new ServerProbeResult(false, $"no answer from {server.Models} within {timeout.TotalSeconds:0} s", null);
        }
        catch (HttpRequestException e)
        {
            return new ServerProbeResult(false, $"cannot reach {server.Models}: {e.Message}", null);
        }
    }

    private static string? TryReadFirstModel(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("data", out var data)
                && data.ValueKind == JsonValueKind.Array
                && data.GetArrayLength() > 0
                && data[0].ValueKind == JsonValueKind.Object
                && data[0].TryGetProperty("id", out var id)
                && id.ValueKind == JsonValueKind.String)
            {
                return id.GetString();
            }
        }
        catch (JsonException)
        {
            // A server that answers /v1/models with something else still serves; we just learn no name.
        }
        return null;
    }
}
