using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Hosting;

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
    }

    /// <summary>Logging setup; by default console, warnings from ASP.NET Core, information from Flywheel.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }
}
