using Flywheel.LoadGen.Client;

namespace Flywheel.LoadGen.Metrics;

/// <summary>Fetches /metrics. A server without one is normal: the scrape is then simply null.</summary>
internal static class MetricsScraper
{
    public static async Task<PrometheusSnapshot?> TryScrapeAsync(HttpClient http, ServerAddress server, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(5));
        try
        {
            using var response = await http.GetAsync(server.Metrics, cts.Token);
            if (!response.IsSuccessStatusCode)
            {
                return null;
            }
            return PrometheusText.Parse(await response.Content.ReadAsStringAsync(cts.Token));
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }
}
