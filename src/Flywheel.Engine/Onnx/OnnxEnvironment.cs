using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Onnx;

/// <summary>
/// The process-wide ONNX Runtime environment, set up the way the engine needs it before the first session:
/// global thread pools (ORT's default sizes) for sessions that opt in (<see cref="UseGlobalThreadPools"/>),
/// warnings and errors logged. Every session options object should come from <see cref="CreateSessionOptions"/>,
/// since the managed API creates a default environment (without global pools) on first use otherwise.
/// </summary>
public static class OnnxEnvironment
{
    private static readonly Lazy<OrtEnv> Env = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The environment (created on first use, never released).</summary>
    public static OrtEnv Instance => Env.Value;

    /// <summary>New session options over the engine's environment (caller disposes).</summary>
    public static SessionOptions CreateSessionOptions()
    {
        _ = Env.Value;
        return new SessionOptions();
    }

    /// <summary>
    /// Makes sessions created with <paramref name="options"/> run on the environment's global thread pools
    /// instead of their own, so two sessions used in turn by one thread do not keep two idle-spinning pools
    /// (IntraOpNumThreads then no longer applies).
    /// </summary>
    public static void UseGlobalThreadPools(SessionOptions options)
    {
        _ = Env.Value;
        if (HasGlobalThreadPools)
        {
            options.DisablePerSessionThreads();
        }
    }

    /// <summary>
    /// False only when something else in the process created ONNX Runtime's environment first (the managed
    /// API's default one has no global pools); sessions then keep their own pools.
    /// </summary>
    public static bool HasGlobalThreadPools { get; private set; }

    private static OrtEnv Create()
    {
        if (OrtEnv.IsCreated)
        {
            return OrtEnv.Instance();
        }

        using var threading = new OrtThreadingOptions();
        var options = new EnvironmentCreationOptions
        {
            logId = "flywheel",
            logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
            threadOptions = threading,
        };
        var env = OrtEnv.CreateInstanceWithOptions(ref options);
        HasGlobalThreadPools = true;
        return env;
    }
}
