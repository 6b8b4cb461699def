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

    /// <summary>Logging setup; by default console, warnings from ASP.NET Core, information from Flywheel.</summary>
    public Action<ILoggingBuilder>? ConfigureLogging { get; set; }
}
