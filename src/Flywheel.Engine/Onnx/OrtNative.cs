using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>
/// Loads libonnxruntime.so.1 and holds the OrtApi function table. Every call goes through a function
/// pointer read from the table at the slot index of the function in onnxruntime_c_api.h (the table is
/// append-only across versions, so indices are stable).
/// </summary>
internal static unsafe class OrtNative
{
    /// <summary>The OrtApi version asked for; ORT 1.30 serves 1..30.</summary>
    public const uint ApiVersion = 23;

    // OrtApi slot indices (onnxruntime_c_api.h, struct OrtApi, in declaration order).
    public const int CreateStatus = 0, GetErrorCode = 1, GetErrorMessage = 2, CreateEnv = 3, CreateSession = 7,
        CreateSessionFromArray = 8, Run = 9, CreateSessionOptions = 10, SetSessionGraphOptimizationLevel = 23,
        SetIntraOpNumThreads = 24, SetInterOpNumThreads = 25, SessionGetInputCount = 30, SessionGetOutputCount = 31,
        SessionGetInputTypeInfo = 33, SessionGetOutputTypeInfo = 34, SessionGetInputName = 36, SessionGetOutputName = 37,
        CreateTensorAsOrtValue = 48, CreateTensorWithDataAsOrtValue = 49, IsTensor = 50, GetTensorMutableData = 51,
        CastTypeInfoToTensorInfo = 55, GetTensorElementType = 60, GetDimensionsCount = 61, GetDimensions = 62,
        GetSymbolicDimensions = 63, GetTensorTypeAndShape = 65, CreateCpuMemoryInfo = 69, AllocatorFree = 76,
        GetAllocatorWithDefaultOptions = 78, ReleaseEnv = 92, ReleaseStatus = 93, ReleaseMemoryInfo = 94,
        ReleaseSession = 95, ReleaseValue = 96, ReleaseTypeInfo = 98, ReleaseTensorTypeAndShapeInfo = 99,
        ReleaseSessionOptions = 100, CreateEnvWithGlobalThreadPools = 119, DisablePerSessionThreads = 120,
        CreateThreadingOptions = 121, ReleaseThreadingOptions = 122, AddSessionConfigEntry = 130, RunWithBinding = 133, CreateIoBinding = 134,
        ReleaseIoBinding = 135, BindInput = 136, BindOutput = 137, GetBoundOutputValues = 140,
        ClearBoundInputs = 141, ClearBoundOutputs = 142,
        SessionOptionsAppendExecutionProvider_CUDA_V2 = 204, CreateCUDAProviderOptions = 205,
        UpdateCUDAProviderOptions = 206, GetCUDAProviderOptionsAsString = 207, ReleaseCUDAProviderOptions = 208;

    private static readonly Lazy<nint> Table = new(LoadTable, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The path the library was loaded from.</summary>
    public static string? LibraryPath { get; private set; }

    /// <summary>Function pointer at <paramref name="slot"/> of the OrtApi table.</summary>
    public static nint Fn(int slot) => ((nint*)Table.Value)[slot];

    /// <summary>Throws <see cref="OrtException"/> for a non-null status, releasing it.</summary>
    public static void Check(nint status)
    {
        if (status != 0)
        {
            throw TakeError(status);
        }
    }

    public static OrtException TakeError(nint status)
    {
        var code = ((delegate* unmanaged<nint, int>)Fn(GetErrorCode))(status);
        var message = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)Fn(GetErrorMessage))(status)) ?? "";
        ((delegate* unmanaged<nint, void>)Fn(ReleaseStatus))(status);
        return new OrtException((OrtErrorCode)code, message);
    }

    /// <summary>Calls a Release* function of the table on <paramref name="handle"/>.</summary>
    public static void Release(int slot, nint handle)
    {
        if (handle != 0)
        {
            ((delegate* unmanaged<nint, void>)Fn(slot))(handle);
        }
    }

    /// <summary>Candidate locations of the library, in search order.</summary>
    public static IReadOnlyList<string> CandidatePaths()
    {
        var paths = new List<string>();
        if (Environment.GetEnvironmentVariable("FLYWHEEL_ORT_LIBRARY") is { Length: > 0 } env)
        {
            paths.Add(env);
        }

        paths.Add(Path.Combine(AppContext.BaseDirectory, "libonnxruntime.so.1"));
        paths.Add(Path.Combine(FlywheelCache.Root, "onnxruntime-1.30.0", "libonnxruntime.so.1"));
        return paths;
    }

    private static nint LoadTable()
    {
        var tried = new List<string>();
        nint library = 0;
        foreach (var path in CandidatePaths())
        {
            if (File.Exists(path) && NativeLibrary.TryLoad(path, out library))
            {
                LibraryPath = path;
                break;
            }

            tried.Add(path);
        }

        if (library == 0)
        {
            throw new OrtException(OrtErrorCode.NoSuchFile,
                "ONNX Runtime (libonnxruntime.so.1) was not found; tried: " + string.Join(", ", tried) +
                ". Build the project (it fetches the library with npm) or set FLYWHEEL_ORT_LIBRARY.");
        }

        var getApiBase = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "OrtGetApiBase");
        var apiBase = getApiBase();
        // OrtApiBase { const OrtApi* (*GetApi)(uint32_t version); const char* (*GetVersionString)(void); }
        var getApi = (delegate* unmanaged<uint, nint>)((nint*)apiBase)[0];
        var api = getApi(ApiVersion);
        if (api == 0)
        {
            var version = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)((nint*)apiBase)[1])());
            throw new OrtException(OrtErrorCode.Fail, $"ONNX Runtime {version} at {LibraryPath} does not serve API version {ApiVersion}.");
        }

        return api;
    }
}
