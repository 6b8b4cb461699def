using System.Net;
using Flywheel.Server.Metrics;
using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Hosting;

/// <summary>The Flywheel HTTP server: OpenAI-compatible API and health probes over one <see cref="IGenerationBackend"/>.</summary>
public static class FlywheelServer
{
    /// <summary>Builds the app (not started). The backend's lifetime stays with the caller.</summary>
    public static WebApplication Build(ServerOptions options, IGenerationBackend backend)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backend);
        options.Validate();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ApplicationName = typeof(FlywheelServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        ConfigureLogging(builder.Logging, options);
        builder.WebHost.ConfigureKestrel(kestrel => ConfigureKestrel(kestrel, options));
        AddFlywheelServices(builder.Services, options, backend);

        var app = builder.Build();
        app.UseOpenAiErrors();
        var registry = Metrics.MetricsEndpoints.CreateRegistry(backend);
        app.UseRouting(); // explicit, so the HTTP metrics below see the matched route
        app.UseFlywheelHttpMetrics(registry);
        app.UseAccessControl(options);
        app.MapHealth();
        app.MapOpenAiEndpoints();
        if (options.AllowRuntimeLora)
        {
            app.MapAdapterEndpoints();
        }

        app.MapFlywheelMetrics(registry);

        app.Lifetime.ApplicationStarted.Register(() => PrintBanner(app, options, backend));
        return app;
    }

    /// <summary>
    /// Serves until <paramref name="cancellationToken"/> fires or the process is told to stop (Ctrl+C,
    /// SIGTERM), then drains. Returns the process exit code: 0 after a clean shutdown, 1 if it could not listen.
    /// </summary>
    public static async Task<int> RunAsync(ServerOptions options, IGenerationBackend backend, CancellationToken cancellationToken = default)
    {
        await using var app = Build(options, backend);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            await options.Output.WriteLineAsync($"error: cannot listen on {options.Host}:{options.Port}: {e.Message}");
            return 1;
        }

        await app.WaitForShutdownAsync(cancellationToken);
        return 0;
    }

    /// <summary>The addresses the started app listens on (with the real port when 0 was asked for).</summary>
    public static IReadOnlyList<Uri> ListeningUris(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.Select(a => new Uri(a)).ToList() ?? [];

    private static void ConfigureLogging(ILoggingBuilder logging, ServerOptions options)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss ";
        });
        logging.AddFilter("Microsoft", LogLevel.Warning);
        options.ConfigureLogging?.Invoke(logging);
    }

    private static void ConfigureKestrel(KestrelServerOptions kestrel, ServerOptions options)
    {
        kestrel.AddServerHeader = false;
        kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes;
        if (options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) && options.Port != 0)
        {
            kestrel.ListenLocalhost(options.Port, UseRejectionBodies); // IPv4 and IPv6 loopback
        }
        else if (options.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.Listen(IPAddress.Loopback, 0, UseRejectionBodies); // Kestrel cannot pick one free port for both loopbacks
        }
        else
        {
            kestrel.Listen(IPAddress.Parse(options.Host), options.Port, UseRejectionBodies); // Validate() checked it parses
        }
    }

    private static void UseRejectionBodies(ListenOptions listen) => listen.Use(KestrelRejectionBodies.Middleware);

    private static void AddFlywheelServices(IServiceCollection services, ServerOptions options, IGenerationBackend backend)
    {
        services.AddSingleton(options);
        services.AddSingleton(backend);
        services.AddSingleton<ModelCatalog>();
        services.AddSingleton<GenerationGateway>();
        services.AddSingleton<RequestDrain>();
        services.AddAccessControl(options);
        services.AddHostedService(sp => sp.GetRequiredService<RequestDrain>());

        // Draining happens inside the host's shutdown window, so the window must outlast it.
        services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout + TimeSpan.FromSeconds(10));
    }

    private static void PrintBanner(WebApplication app, ServerOptions options, IGenerationBackend backend)
    {
        options.Output.WriteLine($"Flywheel: model '{backend.ModelId}' ({backend.Description}), context {backend.ContextLength} tokens");
        foreach (var uri in ListeningUris(app))
        {
            options.Output.WriteLine($"Flywheel: listening on {uri} (OpenAI API at {new Uri(uri, "v1")})");
        }

        options.Output.WriteLine(options.ApiKeys.Count == 0
            ? "Flywheel: UNAUTHENTICATED: no API key is set (--api-key or FLYWHEEL_API_KEY); anyone who can reach this port can use /v1"
            : $"Flywheel: /v1{(options.MetricsRequireKey ? " and /metrics" : "")} require an API key ({options.ApiKeys.Count} accepted)");
        if (backend.Adapters is { MaxCount: > 0 } adapters)
        {
            var loaded = adapters.Loaded;
            options.Output.WriteLine($"Flywheel: LoRA adapters {(loaded.Count == 0 ? "(none loaded)" : string.Join(", ", loaded.Select(a => a.Name)))}, {adapters.MaxCount} slots" +
                (options.AllowRuntimeLora ? "; /v1/load_lora_adapter and /v1/unload_lora_adapter are on" : ""));
        }

        if (options.CorsOrigins.Count > 0)
        {
            options.Output.WriteLine($"Flywheel: CORS allows {string.Join(", ", options.CorsOrigins)}");
        }
    }
}
