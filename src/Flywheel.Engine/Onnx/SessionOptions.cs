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
    /// Appends the CUDA execution provider. Throws <see cref="OrtException"/> when ONNX Runtime's CUDA
    /// provider libraries (libonnxruntime_providers_cuda.so and the CUDA runtime) are not installed.
    /// </summary>
    public void AppendCudaExecutionProvider(IReadOnlyDictionary<string, string>? providerOptions = null)
    {
        nint cuda;
        OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.CreateCUDAProviderOptions))(&cuda));
        var keys = new List<nint>();
        var values = new List<nint>();
        try
        {
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
            var status = append(Raw(), cuda);
            if (status != 0)
            {
                var e = OrtNative.TakeError(status);
                throw new OrtException(e.ErrorCode, "CUDA execution provider is not available (its libraries, libonnxruntime_providers_cuda.so and the CUDA runtime, were not found or failed to load): " + e.Message);
            }
        }
        finally
        {
            keys.ForEach(Marshal.FreeCoTaskMem);
            values.ForEach(Marshal.FreeCoTaskMem);
            OrtNative.Release(OrtNative.ReleaseCUDAProviderOptions, cuda);
        }
    }

    public void Dispose() => _handle.Dispose();

    private nint Raw()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        return _handle.DangerousGetHandle();
    }

    private void Call(delegate* unmanaged<nint, int, nint> fn, int value) => OrtNative.Check(fn(Raw(), value));
}
