using Flywheel.Onnx;
using Flywheel.Onnx.Proto;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Engine.Tests.Onnx;

/// <summary>Runs alone: it compares the process RSS, which other tests would move.</summary>
[CollectionDefinition(nameof(OrtChurnTests), DisableParallelization = true)]
public sealed class OrtChurnTestsCollection;

/// <summary>
/// The repro of docs/decisions/0003 (a loop creating and releasing tensors after sessions were created and
/// released crashed under on-stack replacement), now through the managed API: it must neither crash nor leak.
/// </summary>
[Collection(nameof(OrtChurnTests))]
public sealed class OrtChurnTests
{
    /// <summary>y = x + w (w = [1, 2, 3]).</summary>
    private static byte[] AddModel()
    {
        var model = new OnnxModel();
        var g = model.Graph;
        g.Inputs.Add(new OnnxValueInfo("x", TensorElementType.Float, ["batch", 3L]));
        g.Outputs.Add(new OnnxValueInfo("y", TensorElementType.Float, ["batch", 3L]));
        g.Initializers.Add(OnnxTensor.FromFloats("w", [3], [1f, 2f, 3f]));
        g.AddNode("Add", ["x", "w"], ["y"], "add");
        return model.ToBytes();
    }

    [Fact]
    public unsafe void CreatingAndDisposingManySessionsAndTensorsNeitherCrashesNorLeaks()
    {
        var model = AddModel();
        var data = (float*)System.Runtime.InteropServices.NativeMemory.Alloc(3, sizeof(float));
        try
        {
            data[0] = 1;
            data[1] = 2;
            data[2] = 3;
            float last = 0;
            void Churn(int sessions, int values)
            {
                for (var i = 0; i < sessions; i++)
                {
                    using var options = OnnxEnvironment.CreateSessionOptions();
                    options.IntraOpNumThreads = 1;
                    using var s = new InferenceSession(model, options);
                    using var x = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Float, [1, 3], (nint)data, 3 * sizeof(float));
                    using var run = new RunOptions();
                    using var outputs = s.Run(run, ["x"], [x], ["y"]);
                    last = outputs[0].GetTensorDataAsSpan<float>()[2];
                }

                for (var i = 0; i < values; i++)
                {
                    OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, OrtElementType.Float, [1, 3], (nint)data, 3 * sizeof(float)).Dispose();
                }
            }

            Churn(20, 2000);
            var rssBefore = Environment.WorkingSet;
            Churn(200, 50_000);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var rssGrowth = Environment.WorkingSet - rssBefore;
            Assert.Equal(6f, last);
            Assert.True(rssGrowth < 64L << 20, $"RSS grew by {rssGrowth >> 20} MiB over 200 sessions and 50k values");
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(data);
        }
    }
}
