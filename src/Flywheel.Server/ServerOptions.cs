using Microsoft.Extensions.Logging;

namespace Flywheel.Server;

/// <summary>How <see cref="FlywheelServer"/> listens and protects itself.</summary>
public sealed class ServerOptions
{
    /// <summary>Address to bind: an IP literal ("127.0.0.1", "0.0.0.0", "::") or "localhost".</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="FlywheelServer.ListeningUris"/>).</summary>
    public int Port { get; set; } = 8000;

    /// <summary>
    /// Longest a generation request may take, from arrival to its last token; null = no limit.
    /// On expiry the request is aborted in the backend and the client gets a <c>request_timeout</c> error:
    /// 504 when nothing was sent yet (non-streaming), an error event then <c>[DONE]</c> in a stream.
    /// </summary>
    public TimeSpan? RequestTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Largest accepted request body; bigger ones get 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// On shutdown, how long in-flight requests may run to completion (new ones get 503) before the rest
    /// are aborted.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Keys accepted in <c>Authorization: Bearer KEY</c> on every <c>/v1</c> route (and <c>/metrics</c> with
    /// <see cref="MetricsRequireKey"/>); others get 401 <c>invalid_api_key</c>. Empty: no key needed.
    /// </summary>
    public IReadOnlyList<string> ApiKeys { get; set; } = [];

    /// <summary>Whether <c>/metrics</c> needs an API key too (it is open by default, for scrapers; health probes always are).</summary>
    public bool MetricsRequireKey { get; set; }

    /// <summary>
    /// Host names accepted in the <c>Host</c> header besides loopback ones (localhost, 127.x, [::1]) when
    /// bound to a loopback address, where any other name is refused (DNS rebinding: a web page whose name
    /// resolves to 127.0.0.1 must not reach the API). "*" accepts any. Not checked on other bindings.
    /// </summary>
    public IReadOnlyList<string> AllowedHosts { get; set; } = [];

    /// <summary>Origins (e.g. "https://app.example") browsers may call the API from; empty: CORS off. "*" allows any.</summary>
    public IReadOnlyList<string> CorsOrigins { get; set; } = [];

    /// <summary>
    /// Maps <c>POST /v1/load_lora_adapter</c> and <c>/v1/unload_lora_adapter</c> (vLLM's runtime adapter API),
    /// behind the API key when one is set. Off: the routes do not exist (404), as in vLLM. The request names a
    /// folder on the server's disk, so only trusted clients should be able to call it.
    /// </summary>
    public bool AllowRuntimeLora { get; set; }

    /// <summary>Where the startup lines go (where it listens, what it loaded).</summary>
    public TextWriter Output { get; set; } = Console.Out;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (Port is < 0 or > 65535)
        {
            throw new ArgumentException($"Port must be 0-65535; got {Port}.", nameof(Port));
        }

        if (RequestTimeout is { } timeout && (timeout <= TimeSpan.Zero || timeout.TotalMilliseconds > int.MaxValue))
        {
            throw new ArgumentException($"RequestTimeout must be positive and under 24 days; got {timeout}.", nameof(RequestTimeout));
        }

        if (MaxRequestBodyBytes <= 0)
        {
            throw new ArgumentException($"MaxRequestBodyBytes must be positive; got {MaxRequestBodyBytes}.", nameof(MaxRequestBodyBytes));
        }

        if (DrainTimeout < TimeSpan.Zero || DrainTimeout > TimeSpan.FromHours(1))
        {
            throw new ArgumentException($"DrainTimeout must be between 0 and 1 hour; got {DrainTimeout}.", nameof(DrainTimeout));
        }

        if (!Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) && !System.Net.IPAddress.TryParse(Host, out _))
        {
            throw new ArgumentException($"Host must be an IP address or 'localhost'; got '{Host}'.", nameof(Host));
        }

        if (ApiKeys.FirstOrDefault(k => k.Length == 0 || k.Trim() != k || k.Contains(' ', StringComparison.Ordinal)) is { } badKey)
        {
            throw new ArgumentException($"API keys must be non-empty and hold no spaces; one is '{(badKey.Length == 0 ? "" : "...")}'.", nameof(ApiKeys));
        }

        if (MetricsRequireKey && ApiKeys.Count == 0)
        {
            throw new ArgumentException("MetricsRequireKey needs at least one API key.", nameof(MetricsRequireKey));
        }

        if (CorsOrigins.FirstOrDefault(o => o != "*" && !IsOrigin(o)) is { } badOrigin)
        {
            throw new ArgumentException($"CORS origins must be scheme://host[:port] with no path, or *; got '{badOrigin}'.", nameof(CorsOrigins));
        }

        if (AllowedHosts.FirstOrDefault(h => h.Length == 0 || h.Contains('/', StringComparison.Ordinal)) is { } badHost)
        {
            throw new ArgumentException($"Allowed hosts are names such as 'myhost.lan', or *; got '{badHost}'.", nameof(AllowedHosts));
        }
    }

    /// <summary>Whether the server listens on loopback only (where the Host header is checked).</summary>
    public bool IsLoopbackBinding =>
        Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(Host, out var address) && System.Net.IPAddress.IsLoopback(address));

    private static bool IsOrigin(string origin) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var uri)
        && uri.Scheme is "http" or "https"
        && uri.AbsolutePath == "/" && !origin.EndsWith('/') && uri.Query.Length == 0 && uri.Fragment.Length == 0;

    /// <summary>Logging setup; by default console, warnings from ASP.NET Core, information from Flywheel.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }
}
