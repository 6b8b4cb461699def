using System.Runtime.InteropServices;

namespace Flywheel.Onnx;

/// <summary>Graph optimization levels (GraphOptimizationLevel of the C API).</summary>
public enum GraphOptimizationLevel
{
    DisableAll = 0,
    Basic = 1,
    Extended = 2,
    All = 99,
}

/// <summary>Options for creating an <see cref="InferenceSession"/>. Not thread-safe; use before creating sessions.</summary>
public sealed unsafe class SessionOptions : IDisposable
{
    private readonly OrtHandle _handle;

    public SessionOptions()
    {
        _ = OrtEnvironment.Handle;
        nint options;
        OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.CreateSessionOptions))(&options));
        _handle = new OrtHandle(options, OrtNative.ReleaseSessionOptions);
    }

    internal OrtHandle Handle => _handle;

    /// <summary>Threads used inside one operator (0 = ORT's default: one per physical core).</summary>
    public int IntraOpThreadCount
    {
        set => Call((delegate* unmanaged<nint, int, nint>)OrtNative.Fn(OrtNative.SetIntraOpNumThreads), value);
    }

    /// <summary>Threads used to run independent operators in parallel (0 = default).</summary>
    public int InterOpThreadCount
    {
        set => Call((delegate* unmanaged<nint, int, nint>)OrtNative.Fn(OrtNative.SetInterOpNumThreads), value);
    }

    public GraphOptimizationLevel GraphOptimizationLevel
    {
        set => Call((delegate* unmanaged<nint, int, nint>)OrtNative.Fn(OrtNative.SetSessionGraphOptimizationLevel), (int)value);
    }

    /// <summary>
    /// Sessions created with these options run on the environment's global thread pools instead of their own
    /// (so several sessions of one process do not compete with idle-spinning pools of their own);
    /// <see cref="IntraOpThreadCount"/> then no longer applies.
    /// </summary>
    public void UseGlobalThreadPools() => OrtNative.Check(((delegate* unmanaged<nint, nint>)OrtNative.Fn(OrtNative.DisablePerSessionThreads))(Raw()));

    /// <summary>Sets a session configuration entry (onnxruntime_session_options_config_keys.h); ORT validates it.</summary>
    public void AddConfigEntry(string key, string value)
    {
        var k = Marshal.StringToCoTaskMemUTF8(key);
        var v = Marshal.StringToCoTaskMemUTF8(value);
        try
        {
            var fn = (delegate* unmanaged<nint, nint, nint, nint>)OrtNative.Fn(OrtNative.AddSessionConfigEntry);
            OrtNative.Check(fn(Raw(), k, v));
        }
        finally
        {
            Marshal.FreeCoTaskMem(k);
            Marshal.FreeCoTaskMem(v);
        }
    }

    /// <summary>
    /// Appends the CUDA execution provider, configured with <paramref name="providerOptions"/> (keys of
    /// OrtCUDAProviderOptionsV2, e.g. device_id; values as strings). ONNX Runtime loads
    /// libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so from the folder of
    /// libonnxruntime.so.1 at this call, so a missing or broken CUDA install shows here, not at the first
    /// Run. Throws <see cref="OrtException"/> with ORT's message and what to install; the options stay usable.
    /// </summary>
    public void AppendCudaExecutionProvider(IReadOnlyDictionary<string, string>? providerOptions = null)
    {
        nint cuda = 0;
        var keys = new List<nint>();
        var values = new List<nint>();
        try
        {
            OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.CreateCUDAProviderOptions))(&cuda));
            if (providerOptions is { Count: > 0 })
            {
                foreach (var (key, value) in providerOptions)
                {
                    keys.Add(Marshal.StringToCoTaskMemUTF8(key));
                    values.Add(Marshal.StringToCoTaskMemUTF8(value));
                }

                fixed (nint* k = keys.ToArray(), v = values.ToArray())
                {
                    var update = (delegate* unmanaged<nint, nint*, nint*, nuint, nint>)OrtNative.Fn(OrtNative.UpdateCUDAProviderOptions);
                    OrtNative.Check(update(cuda, k, v, (nuint)keys.Count));
                }
            }

            var append = (delegate* unmanaged<nint, nint, nint>)OrtNative.Fn(OrtNative.SessionOptionsAppendExecutionProvider_CUDA_V2);
            OrtNative.Check(append(Raw(), cuda));
        }
        catch (OrtException e)
        {
            throw new OrtException(e.ErrorCode, CudaUnavailableMessage(e.Message));
        }
        finally
        {
            keys.ForEach(Marshal.FreeCoTaskMem);
            values.ForEach(Marshal.FreeCoTaskMem);
            OrtNative.Release(OrtNative.ReleaseCUDAProviderOptions, cuda);
        }
    }

    /// <summary>The error for a CUDA provider that cannot be appended: ORT's reason, then what to install where.</summary>
    internal static string CudaUnavailableMessage(string ortMessage)
    {
        var folder = Path.GetDirectoryName(OrtNative.LibraryPath) ?? "the folder of libonnxruntime.so.1";
        return $"the CUDA execution provider could not be loaded: {ortMessage.Trim().TrimEnd('.')}. " +
            "Install ONNX Runtime's CUDA provider libraries (libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so, " +
            "with libonnxruntime.so.1 from the same GPU package, e.g. NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux 1.30.0, runtimes/linux-x64/native) " +
            $"into {folder}, with the CUDA 12 runtime and cuDNN 9 on the library path; or use --device cpu.";
    }

    public void Dispose() => _handle.Dispose();

    private nint Raw()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return _handle.DangerousGetHandle();
    }

    private void Call(delegate* unmanaged<nint, int, nint> fn, int value) => OrtNative.Check(fn(Raw(), value));
}
