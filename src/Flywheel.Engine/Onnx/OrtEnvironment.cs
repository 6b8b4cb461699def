using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>The process-wide ORT environment (logging, global thread pools). Created on first use, never released.</summary>
public static unsafe class OrtEnvironment
{
    private static readonly Lazy<nint> Env = new(Create, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<nint> CpuMemory = new(CreateCpuMemoryInfo, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The library file ONNX Runtime was loaded from.</summary>
    public static string LibraryPath
    {
        get
        {
            _ = Env.Value;
            return OrtNative.LibraryPath!;
        }
    }

    internal static nint Handle => Env.Value;

    /// <summary>OrtMemoryInfo for CPU memory (arena allocator, default mem type).</summary>
    internal static nint CpuMemoryInfo => CpuMemory.Value;

    private static nint Create()
    {
        nint env;
        var logId = Marshal.StringToCoTaskMemUTF8("flywheel");
        try
        {
            // Logging level 2 = ORT_LOGGING_LEVEL_WARNING. The environment also holds global thread pools
            // (ORT's default sizes) for sessions that opt in (SessionOptions.UseGlobalThreadPools); the others
            // keep their own.
            nint threading;
            OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.CreateThreadingOptions))(&threading));
            try
            {
                OrtNative.Check(((delegate* unmanaged<int, nint, nint, nint*, nint>)OrtNative.Fn(OrtNative.CreateEnvWithGlobalThreadPools))(2, logId, threading, &env));
            }
            finally
            {
                OrtNative.Release(OrtNative.ReleaseThreadingOptions, threading);
            }
        }
        finally
        {
            Marshal.FreeCoTaskMem(logId);
        }

        return env;
    }

    private static nint CreateCpuMemoryInfo()
    {
        _ = Env.Value;
        nint info;
        // OrtArenaAllocator = 1, OrtMemTypeDefault = 0.
        OrtNative.Check(((delegate* unmanaged<int, int, nint*, nint>)OrtNative.Fn(OrtNative.CreateCpuMemoryInfo))(1, 0, &info));
        return info;
    }
}
