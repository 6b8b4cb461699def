using System.Runtime.InteropServices;
using Flywheel.Engine.Tests.Models;
using Flywheel.Models;
using Flywheel.Onnx;

namespace Flywheel.Engine.Tests.Onnx;

/// <summary>
/// The CUDA execution provider through the real C API. Where ONNX Runtime's CUDA provider library is not
/// next to libonnxruntime.so.1 (CPU-only hosts, the npm build this project fetches), appending it must fail
/// with ORT's reason plus what to install, and leave the process and the session options working.
/// </summary>
public sealed unsafe class CudaProviderTests
{
    private static bool CudaProviderInstalled =>
        File.Exists(Path.Combine(Path.GetDirectoryName(OrtNative.LibraryPath ?? LoadedLibrary())!, "libonnxruntime_providers_cuda.so"));

    private static string LoadedLibrary()
    {
        using var _ = new SessionOptions(); // loads the library
        return OrtNative.LibraryPath!;
    }

    [Fact]
    public void AppendingCudaWithoutItsLibraryFailsClearlyAndTheOptionsStillServeTheCpu()
    {
        if (CudaProviderInstalled)
        {
            return; // a GPU host: covered by the device tests, not this one
        }

        using var options = new SessionOptions();
        var e = Assert.Throws<OrtException>(() => options.AppendCudaExecutionProvider(new Dictionary<string, string> { ["device_id"] = "0" }));
        Assert.StartsWith("the CUDA execution provider could not be loaded: ", e.Message);
        Assert.Contains("libonnxruntime_providers_cuda.so", e.Message);
        Assert.Contains(Path.GetDirectoryName(OrtNative.LibraryPath)!, e.Message);
        Assert.Contains("--device cpu", e.Message);

        // ORT's own reason comes through: the text between our prefix and our advice is not empty.
        var reason = e.Message["the CUDA execution provider could not be loaded: ".Length..e.Message.IndexOf(" Install ONNX Runtime's", StringComparison.Ordinal)];
        Assert.False(string.IsNullOrWhiteSpace(reason), e.Message);

        // The failed append left nothing behind: the same options still create a working CPU session.
        using var session = new InferenceSession(InferenceSessionTests.AddMatMulModel(), options);
        using var x = OrtValue.CreateTensor(new float[] { 1, 2, 3 }, [1, 3]);
        var outputs = session.Run(["x"], [x], ["y"]);
        Assert.Equal([2f, 4f, 6f], outputs[0].GetTensorData<float>().ToArray());
        outputs[0].Dispose();
    }

    [Fact]
    public void ModelFolderOnCudaFailsWithTheProviderErrorAndCpuStillOpens()
    {
        if (CudaProviderInstalled)
        {
            return;
        }

        var e = Assert.Throws<OrtException>(() => ModelFolder.Open(TinyModel.Dir, device: ExecutionDevice.Cuda).Dispose());
        Assert.StartsWith("the CUDA execution provider could not be loaded: ", e.Message);

        using var folder = ModelFolder.Open(TinyModel.Dir);
        Assert.Equal(ExecutionDevice.Cpu, folder.Device);
    }

    [Fact]
    public void CudaProviderOptionSlotsBehaveAsTheirFunctions()
    {
        // Checks slots 205-208 by behaviour. Create (205) only allocates the options, so it works anywhere.
        // Update (206) and GetAsString (207) parse and print them inside the CUDA provider library: without
        // it, Update reports the provider bridge failing to load, and with it the options print back.
        _ = LoadedLibrary();
        nint cuda;
        OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.CreateCUDAProviderOptions))(&cuda));
        Assert.NotEqual(0, cuda);
        var key = Marshal.StringToCoTaskMemUTF8("device_id");
        var value = Marshal.StringToCoTaskMemUTF8("3");
        try
        {
            var update = (delegate* unmanaged<nint, nint*, nint*, nuint, nint>)OrtNative.Fn(OrtNative.UpdateCUDAProviderOptions);
            var status = update(cuda, &key, &value, 1);
            if (!CudaProviderInstalled)
            {
                Assert.NotEqual(0, status);
                Assert.Contains("libonnxruntime_providers_shared.so", OrtNative.TakeError(status).Message);
                return;
            }

            OrtNative.Check(status);
            nint allocator, text;
            OrtNative.Check(((delegate* unmanaged<nint*, nint>)OrtNative.Fn(OrtNative.GetAllocatorWithDefaultOptions))(&allocator));
            OrtNative.Check(((delegate* unmanaged<nint, nint, nint*, nint>)OrtNative.Fn(OrtNative.GetCUDAProviderOptionsAsString))(cuda, allocator, &text));
            var options = Marshal.PtrToStringUTF8(text);
            OrtNative.Check(((delegate* unmanaged<nint, nint, nint>)OrtNative.Fn(OrtNative.AllocatorFree))(allocator, text));
            Assert.Contains("device_id=3;", options);
        }
        finally
        {
            Marshal.FreeCoTaskMem(key);
            Marshal.FreeCoTaskMem(value);
            OrtNative.Release(OrtNative.ReleaseCUDAProviderOptions, cuda);
        }
    }

    [Theory]
    [InlineData("cpu", ExecutionDevice.Cpu)]
    [InlineData("CUDA", ExecutionDevice.Cuda)]
    public void DeviceNamesParse(string name, ExecutionDevice expected) => Assert.Equal(expected, ExecutionDevices.Parse(name));

    [Fact]
    public void UnknownDeviceNamesTheChoices()
    {
        var e = Assert.Throws<ArgumentException>(() => ExecutionDevices.Parse("tpu"));
        Assert.Contains("cpu or cuda", e.Message);
    }
}
