using Flywheel.Serving.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Prometheus;

namespace Flywheel.Server.Metrics;

public static class MetricsEndpoints
{
    /// <summary>
    /// The registry a server exports: the backend's when it has one, else a new one; never the static
    /// default, so servers in one process keep their counts apart. Adds process and .NET runtime metrics.
    /// </summary>
    public static CollectorRegistry CreateRegistry(object backend)
    {
        var registry = backend is IMetricsSource source ? source.Registry : Prometheus.Metrics.NewCustomRegistry();
        DotNetStats.Register(registry);
        return registry;
    }

    /// <summary>
    /// Counts HTTP requests (in progress, by status, durations; /metrics itself excluded) into
    /// <paramref name="registry"/>. Call after routing is set up so the route label is known.
    /// </summary>
    public static IApplicationBuilder UseFlywheelHttpMetrics(this IApplicationBuilder app, CollectorRegistry registry) =>
        app.UseHttpMetrics(options => options.SetMetricFactory(Prometheus.Metrics.WithCustomRegistry(registry)));

    /// <summary>
    /// GET /metrics in the Prometheus text format (OpenMetrics when the scraper asks for it). The returned
    /// builder lets the caller add conventions to the endpoint, such as an authorization check.
    /// </summary>
    public static IEndpointConventionBuilder MapFlywheelMetrics(this IEndpointRouteBuilder app, CollectorRegistry registry) =>
        app.MapMetrics("/metrics", registry);
}
