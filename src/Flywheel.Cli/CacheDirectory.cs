namespace Flywheel.Cli;

/// <summary>
/// The directory Flywheel caches what it fetches or builds once in (ONNX Runtime, the demo model, test assets):
/// $FLYWHEEL_CACHE, else $XDG_CACHE_HOME/flywheel, else ~/.cache/flywheel. The build scripts use the same rule.
/// The CLI is its only reader (the demo model); the engine opens model folders wherever they are.
/// </summary>
internal static class CacheDirectory
{
    /// <summary>The cache directory's full path (it may not exist yet).</summary>
    public static string FullPath =>
        Environment.GetEnvironmentVariable("FLYWHEEL_CACHE") is { Length: > 0 } explicitRoot ? explicitRoot
        : Path.Combine(
            Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "flywheel");
}
