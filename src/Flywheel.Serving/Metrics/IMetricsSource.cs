using Prometheus;

namespace Flywheel.Serving.Metrics;

/// <summary>A backend whose metrics a server exposes (at /metrics, for the HTTP server).</summary>
public interface IMetricsSource
{
    /// <summary>The backend's own registry; the server adds its HTTP and process metrics to it.</summary>
    CollectorRegistry Registry { get; }
}
