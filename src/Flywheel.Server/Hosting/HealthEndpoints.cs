using System.Text.Json.Serialization;
using Flywheel.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Kubernetes-style probes: <c>/health/live</c> is 200 while the process serves HTTP at all;
/// <c>/health/ready</c> is 200 only when the model is loaded and the server is not draining, else 503.
/// </summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health");
        health.MapGet("/live", () => TypedResults.Ok(new HealthStatus("alive")));
        health.MapGet("/ready", Ready);
        return app;
    }

    private static Results<Ok<HealthStatus>, JsonHttpResult<HealthStatus>> Ready(IGenerationBackend backend, RequestDrain drain)
    {
        if (drain.IsDraining)
        {
            return TypedResults.Json(new HealthStatus("draining"), statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        return backend.IsReady
            ? TypedResults.Ok(new HealthStatus("ready"))
            : TypedResults.Json(new HealthStatus("loading"), statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    /// <summary>Probe body: <c>{"status": "alive" | "ready" | "loading" | "draining"}</c>.</summary>
    public sealed record HealthStatus([property: JsonPropertyName("status")] string Status);
}
