namespace Flywheel;

/// <summary>
/// Where Flywheel caches what it fetches or builds once (ONNX Runtime, the demo model, test assets):
/// $FLYWHEEL_CACHE, else $XDG_CACHE_HOME/flywheel, else ~/.cache/flywheel. The build scripts use the same rule.
/// </summary>
public static class FlywheelCache
{
    public static string Root =>
        Environment.GetEnvironmentVariable("FLYWHEEL_CACHE") is { Length: > 0 } explicitRoot ? explicitRoot
        : Path.Combine(
            Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
            "flywheel");
}
