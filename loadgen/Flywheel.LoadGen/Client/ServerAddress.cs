namespace Flywheel.LoadGen.Client;

/// <summary>
/// The endpoints of a server given by its base URL. Accepts "http://host:port", with or without a
/// trailing "/" or "/v1", so both styles users copy from other tools work.
/// </summary>
public sealed class ServerAddress
{
    private ServerAddress(Uri root)
    {
        Root = root;
        ChatCompletions = new Uri(root, "v1/chat/completions");
        Completions = new Uri(root, "v1/completions");
        Models = new Uri(root, "v1/models");
        Metrics = new Uri(root, "metrics");
    }

    /// <summary>The server's root, always ending in "/".</summary>
    public Uri Root { get; }
    public Uri ChatCompletions { get; }
    public Uri Completions { get; }
    public Uri Models { get; }

    /// <summary>The Prometheus endpoint, /metrics at the root (vLLM's and Flywheel's place).</summary>
    public Uri Metrics { get; }

    /// <summary>Parses an absolute http(s) URL; false (with a reason) for anything else.</summary>
    public static bool TryParse(string text, out ServerAddress address, out string error)
    {
        address = null!;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            error = $"--url must be an absolute http:// or https:// URL, not '{text}'";
            return false;
        }
        var path = uri.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/v1", StringComparison.Ordinal))
        {
            path = path[..^3];
        }
        address = new ServerAddress(new UriBuilder(uri) { Path = path + "/", Query = "", Fragment = "" }.Uri);
        error = "";
        return true;
    }

    public override string ToString() => Root.ToString();
}
