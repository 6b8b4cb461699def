using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Onnx;

/// <summary>Appends ONNX Runtime's CUDA execution provider, turning its failures into an error a user can act on.</summary>
public static class CudaProvider
{
    /// <summary>
    /// Appends the CUDA execution provider to <paramref name="options"/>, configured with
    /// <paramref name="providerOptions"/> (keys of OrtCUDAProviderOptionsV2, e.g. device_id). ONNX Runtime loads
    /// libonnxruntime_providers_cuda.so (and through it the CUDA 13 and cuDNN 9 libraries) at this call, so a
    /// missing library shows here, not at the first Run. Throws <see cref="CudaUnavailableException"/> with
    /// ONNX Runtime's reason (which names the library it could not load) and what to do instead.
    /// </summary>
    public static void Append(SessionOptions options, IReadOnlyDictionary<string, string>? providerOptions = null)
    {
        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            if (providerOptions is { Count: > 0 })
            {
                cuda.UpdateOptions(providerOptions.ToDictionary(p => p.Key, p => p.Value));
            }

            options.AppendExecutionProvider_CUDA(cuda);
        }
        catch (OnnxRuntimeException e)
        {
            throw new CudaUnavailableException(UnavailableMessage(e.Message), e);
        }
    }

    /// <summary>Whether this build carries ONNX Runtime's CUDA provider library (built with -p:FlywheelDevice=cuda).</summary>
    public static bool IsInBuild => File.Exists(Path.Combine(AppContext.BaseDirectory, ProviderLibrary));

    /// <summary>The provider library ONNX Runtime loads for CUDA, next to libonnxruntime.so.</summary>
    public const string ProviderLibrary = "libonnxruntime_providers_cuda.so";

    internal static string UnavailableMessage(string ortMessage)
    {
        var reason = ortMessage.Trim().TrimEnd('.');
        var fix = IsInBuild
            ? "Install the CUDA 13 runtime with cuBLAS (libcudart.so.13, libcublasLt.so.13) and cuDNN 9 (libcudnn.so.9) on the library path (LD_LIBRARY_PATH), or use the CUDA image"
            : $"This build has the CPU-only ONNX Runtime ({ProviderLibrary} is not in {AppContext.BaseDirectory}); build with -p:FlywheelDevice=cuda (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux 1.32.0) on a host with CUDA 13 and cuDNN 9, or use the CUDA image";
        return $"the CUDA execution provider could not be loaded: {reason}. {fix}; or use --device cpu.";
    }
}

/// <summary>ONNX Runtime's CUDA execution provider cannot be used on this host or with this build.</summary>
public sealed class CudaUnavailableException(string message, Exception inner) : Exception(message, inner);
