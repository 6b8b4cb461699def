using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Flywheel.Server.Metrics;

/// <summary>A backend whose measurements the server exposes at /metrics.</summary>
public interface IMetricsSource
{
    Meter Meter { get; }

    IReadOnlyDictionary<string, double[]> HistogramBuckets { get; }

    /// <summary>Records zero-valued counters once an exporter listens, so their series exist from the start.</summary>
    void PublishInitialValues();
}

public static class MetricsEndpoints
{
    /// <summary>GET /metrics in the Prometheus text format.</summary>
    public static IEndpointRouteBuilder MapMetrics(this IEndpointRouteBuilder app, PrometheusExporter exporter)
    {
        app.MapGet("/metrics", () => Results.Text(exporter.Scrape(), PrometheusExporter.ContentType));
        return app;
    }
}
