using System.Net;
using System.Security.Cryptography;
using System.Text;
using Flywheel.Server.OpenAi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Who may use the server, checked before any endpoint runs, in this order: the <c>Host</c> header when
/// bound to loopback (DNS rebinding), CORS (off unless origins are configured; answers preflights), and
/// the API key on <c>/v1</c> (and <c>/metrics</c> when asked). Refusals are OpenAI-shaped errors.
/// </summary>
public static class AccessControl
{
    private const string CorsPolicy = "flywheel";

    /// <summary>Registers the CORS policy when <see cref="ServerOptions.CorsOrigins"/> names any origin.</summary>
    public static IServiceCollection AddAccessControl(this IServiceCollection services, ServerOptions options)
    {
        if (options.CorsOrigins.Count > 0)
        {
            services.AddCors(cors => cors.AddPolicy(CorsPolicy, policy =>
            {
                _ = options.CorsOrigins.Contains("*") ? policy.AllowAnyOrigin() : policy.WithOrigins([.. options.CorsOrigins]);
                // The browser build of OpenAI's client sends its own x-stainless-* headers besides
                // Authorization and Content-Type; the origin is what is restricted, not the headers.
                policy.WithMethods("GET", "POST").AllowAnyHeader().WithExposedHeaders("Retry-After");
            }));
        }

        return services;
    }

    public static WebApplication UseAccessControl(this WebApplication app, ServerOptions options)
    {
        if (options.IsLoopbackBinding && !options.AllowedHosts.Contains("*"))
        {
            var allowed = new HashSet<string>(options.AllowedHosts, StringComparer.OrdinalIgnoreCase);
            app.Use((http, next) => IsAllowedHost(http.Request.Host, allowed)
                ? next(http)
                : OpenAiErrorResult.WriteAsync(http.Response, HostNotAllowed(http.Request.Host)));
        }

        if (options.CorsOrigins.Count > 0)
        {
            app.UseCors(CorsPolicy);
        }

        if (options.ApiKeys.Count > 0)
        {
            var keys = new ApiKeys(options.ApiKeys);
            var metrics = options.MetricsRequireKey;
            app.Use((http, next) =>
            {
                var path = http.Request.Path;
                var guarded = path.StartsWithSegments("/v1") || (metrics && path.StartsWithSegments("/metrics"));
                if (!guarded || keys.Accepts(http.Request.Headers.Authorization))
                {
                    return next(http);
                }

                http.Response.Headers.WWWAuthenticate = "Bearer";
                return OpenAiErrorResult.WriteAsync(http.Response, InvalidApiKey(http.Request.Headers.Authorization.Count > 0));
            });
        }

        return app;
    }

    /// <summary>Loopback names and addresses, with any port, and the configured extra names.</summary>
    internal static bool IsAllowedHost(HostString host, IReadOnlySet<string> allowed)
    {
        if (!host.HasValue)
        {
            return true; // HTTP/1.0 without Host: no name a browser could have resolved
        }

        var name = host.Host;
        if (name.Equals("localhost", StringComparison.OrdinalIgnoreCase) || allowed.Contains(name))
        {
            return true;
        }

        var literal = name.StartsWith('[') && name.EndsWith(']') ? name[1..^1] : name;
        return IPAddress.TryParse(literal, out var address) && IPAddress.IsLoopback(address)
            // IPAddress.TryParse also reads "127.1" and bare integers; only dotted quads and IPv6 are names a browser uses.
            && (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 || literal.Count(c => c == '.') == 3);
    }

    private static OpenAiError HostNotAllowed(HostString host) =>
        new(403, $"Host '{host.Value}' is not allowed: this server listens on loopback and answers only to loopback names (localhost, 127.0.0.1, [::1]); start it with --allowed-hosts to accept others.", "invalid_request_error", null, "host_not_allowed");

    private static OpenAiError InvalidApiKey(bool given) =>
        new(401, given
            ? "Incorrect API key provided."
            : "You didn't provide an API key. Send it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).",
            "invalid_request_error", null, "invalid_api_key");

    /// <summary>The accepted keys, compared in constant time.</summary>
    private sealed class ApiKeys(IEnumerable<string> keys)
    {
        // Hashing first makes every comparison 32 bytes long, so FixedTimeEquals leaks neither where a
        // guess first differs nor how long the real key is.
        private readonly byte[][] _hashes = [.. keys.Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];

        public bool Accepts(Microsoft.Extensions.Primitives.StringValues authorization)
        {
            if (authorization.Count != 1 || authorization[0] is not { } header
                || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            var given = SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()));
            var match = false;
            foreach (var hash in _hashes)
            {
                match |= CryptographicOperations.FixedTimeEquals(hash, given); // no early exit: every key is compared
            }

            return match;
        }
    }
}
