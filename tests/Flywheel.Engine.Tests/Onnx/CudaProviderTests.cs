using Flywheel.Engine.Tests.Models;
using Flywheel.Models;
using Flywheel.Onnx;

namespace Flywheel.Engine.Tests.Onnx;

/// <summary>
/// The CUDA execution provider through the managed API. In the CPU build (Microsoft.ML.OnnxRuntime, no
/// libonnxruntime_providers_cuda.so next to libonnxruntime.so), appending it must fail with ONNX Runtime's
/// reason, naming the library it could not load, plus what to do instead; the options stay usable.
/// </summary>
public sealed class CudaProviderTests
{
    [Fact]
    public void AppendingCudaWithoutItsLibraryNamesItAndTheOptionsStillServeTheCpu()
    {
        if (CudaProvider.IsInBuild)
        {
            return; // a -p:FlywheelDevice=cuda build: this test is for the CPU build
        }

        using var options = OnnxEnvironment.CreateSessionOptions();
        var e = Assert.Throws<CudaUnavailableException>(() => CudaProvider.Append(options, new Dictionary<string, string> { ["device_id"] = "0" }));
        Assert.StartsWith("the CUDA execution provider could not be loaded: ", e.Message);
        Assert.Contains(CudaProvider.ProviderLibrary, e.Message);
        Assert.Contains("-p:FlywheelDevice=cuda", e.Message);
        Assert.EndsWith("or use --device cpu.", e.Message);

        // ONNX Runtime's own reason comes through: the text between our prefix and our advice is not empty.
        var reason = e.Message["the CUDA execution provider could not be loaded: ".Length..e.Message.IndexOf(". This build", StringComparison.Ordinal)];
        Assert.False(string.IsNullOrWhiteSpace(reason), e.Message);

        // The failed append left nothing behind: the same options still open a working CPU session.
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(TinyModel.Dir, "model.onnx"), options);
        Assert.Contains("input_ids", session.InputNames);
    }

    [Fact]
    public void ModelFolderOnCudaFailsWithTheProviderErrorAndCpuStillOpens()
    {
        if (CudaProvider.IsInBuild)
        {
            return;
        }

        var e = Assert.Throws<CudaUnavailableException>(() => ModelFolder.Open(TinyModel.Dir, device: ExecutionDevice.Cuda).Dispose());
        Assert.StartsWith("the CUDA execution provider could not be loaded: ", e.Message);

        using var folder = ModelFolder.Open(TinyModel.Dir);
        Assert.Equal(ExecutionDevice.Cpu, folder.Device);
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
