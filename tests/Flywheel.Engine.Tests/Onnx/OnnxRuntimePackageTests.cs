using Flywheel.Onnx;
using Microsoft.ML.OnnxRuntime;

namespace Flywheel.Engine.Tests.Onnx;

/// <summary>
/// ONNX Runtime comes from NuGet (Microsoft.ML.OnnxRuntime 1.32.0 with its managed API), for linux-x64 only,
/// and the engine's environment is the one with global thread pools.
/// </summary>
public sealed class OnnxRuntimePackageTests
{
    [Fact]
    public void TheLoadedLibraryIsOnnxRuntime132FromThePackage()
    {
        Assert.Equal("1.32.0", OnnxEnvironment.Instance.GetVersionString());
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "libonnxruntime.so")));
        Assert.Contains("CPUExecutionProvider", OnnxEnvironment.Instance.GetAvailableProviders());
    }

    [Fact]
    public void OnlyLinuxX64NativesAreCopied()
    {
        // Without a RuntimeIdentifier every platform's natives (~300 MB) land under runtimes/, and the
        // package's props copy its Windows DLLs next to the binaries.
        Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "runtimes")), "runtimes/ was copied");
        Assert.Empty(Directory.GetFiles(AppContext.BaseDirectory, "onnxruntime*.dll"));
    }
}
