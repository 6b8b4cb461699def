using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Engine.Tests.Onnx;

/// <summary>
/// Runs alone (not in parallel with other test classes): the leak tests compare the process-wide count of
/// live ORT objects and the process RSS, which other tests would move.
/// </summary>
[CollectionDefinition(nameof(InferenceSessionTests), DisableParallelization = true)]
public sealed class InferenceSessionTestsCollection;

[Collection(nameof(InferenceSessionTests))]
public sealed class InferenceSessionTests
{
    /// <summary>y = x + w (w = [1, 2, 3]); z = MatMul(x, m) with m 3x2 of ones.</summary>
    internal static byte[] AddMatMulModel()
    {
        var model = new OnnxModel();
        var g = model.Graph;
        g.Inputs.Add(new OnnxValueInfo("x", TensorElementType.Float, ["batch", 3L]));
        g.Outputs.Add(new OnnxValueInfo("y", TensorElementType.Float, ["batch", 3L]));
        g.Outputs.Add(new OnnxValueInfo("z", TensorElementType.Float, ["batch", 2L]));
        g.Initializers.Add(OnnxTensor.FromFloats("w", [3], [1f, 2f, 3f]));
        g.Initializers.Add(OnnxTensor.FromFloats("m", [3, 2], [1f, 1f, 1f, 1f, 1f, 1f]));
        g.AddNode("Add", ["x", "w"], ["y"], "add");
        g.AddNode("MatMul", ["x", "m"], ["z"], "matmul");
        return model.ToBytes();
    }

    [Fact]
    public void RunsAModelAndReportsMetadata()
    {
        using var session = new InferenceSession(AddMatMulModel());
        var input = Assert.Single(session.Inputs);
        Assert.Equal(("x", TensorElementType.Float), (input.Name, input.ElementType));
        Assert.Equal([-1L, 3L], input.Shape);
        Assert.Equal("batch", input.SymbolicDims[0]);
        Assert.Equal(["y", "z"], session.Outputs.Select(o => o.Name));

        using var x = OrtValue.CreateTensor(new float[] { 1, 2, 3, 4, 5, 6 }, [2, 3]);
        var outputs = session.Run(["x"], [x], ["y", "z"]);
        try
        {
            Assert.Equal([2f, 4f, 6f, 5f, 7f, 9f], outputs[0].GetTensorData<float>().ToArray());
            Assert.Equal([6f, 6f, 15f, 15f], outputs[1].GetTensorData<float>().ToArray());
            Assert.Equal([2L, 2L], outputs[1].GetShape());
        }
        finally
        {
            foreach (var o in outputs)
            {
                o.Dispose();
            }
        }
    }

    [Fact]
    public unsafe void WritesIntoPreallocatedOutputs()
    {
        using var session = new InferenceSession(AddMatMulModel());
        using var inNames = new NativeNames(["x"]);
        using var outNames = new NativeNames(["z"]);
        var xs = new float[] { 1, 1, 1 };
        var zs = new float[2];
        using var x = OrtValue.CreateTensor(xs, [1, 3]);
        using var z = OrtValue.CreateTensor(zs, [1, 2]);
        var outputs = new OrtValue?[] { z };
        for (var step = 1; step <= 3; step++)
        {
            xs[0] = step;
            session.Run(inNames, [x], outNames, outputs);
            Assert.Same(z, outputs[0]);
            Assert.Equal(step + 2f, zs[0]);
        }
    }

    [Fact]
    public void IoBindingWritesIntoBoundOutputs()
    {
        using var session = new InferenceSession(AddMatMulModel());
        using var binding = session.CreateIoBinding();
        var xs = new float[] { 1, 2, 3 };
        var ys = new float[3];
        using var x = OrtValue.CreateTensor(xs, [1, 3]);
        using var y = OrtValue.CreateTensor(ys, [1, 3]);
        binding.BindInput("x", x);
        binding.BindOutput("y", y);
        binding.Run();
        Assert.Equal([2f, 4f, 6f], ys);
        xs[2] = 10;
        binding.Run();
        Assert.Equal(13f, ys[2]);
        var bound = binding.GetBoundOutputValues();
        Assert.Equal([2f, 4f, 13f], Assert.Single(bound).GetTensorData<float>().ToArray());
        bound[0].Dispose();
        binding.ClearBoundOutputs();
        Assert.Throws<OrtException>(() => binding.BindInput("nope", x));
    }

    [Fact]
    public void OrtErrorsSurfaceWithOrtsMessage()
    {
        var missing = Assert.Throws<OrtException>(() => new InferenceSession("/nonexistent/model.onnx"));
        Assert.Contains("model.onnx", missing.Message);
        Assert.Throws<OrtException>(() => new InferenceSession(new byte[] { 1, 2, 3, 4, 5 }));

        using var session = new InferenceSession(AddMatMulModel());
        using var wrongRank = OrtValue.CreateTensor(new float[] { 1, 2, 3 }, [3]);
        var e = Assert.Throws<OrtException>(() => session.Run(["x"], [wrongRank], ["y"]));
        Assert.Contains("rank", e.Message, StringComparison.OrdinalIgnoreCase);
        using var wrongType = OrtValue.CreateTensor(new long[] { 1, 2, 3 }, [1, 3]);
        Assert.Throws<OrtException>(() => session.Run(["x"], [wrongType], ["y"]));
        using var ok = OrtValue.CreateTensor(new float[] { 1, 2, 3 }, [1, 3]);
        var badName = Assert.Throws<OrtException>(() => session.Run(["nope"], [ok], ["y"]));
        Assert.Contains("nope", badName.Message);
    }

    [Fact]
    public void OptionsAreApplied()
    {
        using var options = new SessionOptions { IntraOpThreadCount = 1, InterOpThreadCount = 1, GraphOptimizationLevel = GraphOptimizationLevel.All };
        options.AddConfigEntry("session.intra_op.allow_spinning", "0");
        using var session = new InferenceSession(AddMatMulModel(), options);
        Assert.Equal(2, session.Outputs.Count);
        using var sessionsOptions = new SessionOptions();
        Assert.Throws<ObjectDisposedException>(() =>
        {
            sessionsOptions.Dispose();
            sessionsOptions.IntraOpThreadCount = 1;
        });
    }

    [Fact]
    public void DisposeIsIdempotentAndUseAfterDisposeThrows()
    {
        var session = new InferenceSession(AddMatMulModel());
        var x = OrtValue.CreateTensor(new float[] { 1, 2, 3 }, [1, 3]);
        session.Dispose();
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Run(["x"], [x], ["y"]));
        x.Dispose();
        x.Dispose();
        Assert.Throws<ObjectDisposedException>(() => x.GetShape());
    }

    [Fact]
    public void CreatingAndDisposingManyObjectsLeaksNothing()
    {
        var model = AddMatMulModel();
        var data = new float[] { 1, 2, 3 };
        void Churn(int sessions, int values)
        {
            for (var i = 0; i < sessions; i++)
            {
                using var options = new SessionOptions { IntraOpThreadCount = 1 };
                using var s = new InferenceSession(model, options);
                using var x = OrtValue.CreateTensor(data, [1, 3]);
                foreach (var o in s.Run(["x"], [x], ["y", "z"]))
                {
                    o.Dispose();
                }
            }

            for (var i = 0; i < values; i++)
            {
                OrtValue.CreateTensor(data, [1, 3]).Dispose();
            }
        }

        Churn(20, 2000);
        var liveBefore = OrtHandleCount();
        var rssBefore = ResidentBytes();
        Churn(200, 50_000);
        GC.Collect();
        var rssGrowth = ResidentBytes() - rssBefore;
        Assert.Equal(liveBefore, OrtHandleCount());
        Assert.True(rssGrowth < 64L << 20, $"RSS grew by {rssGrowth >> 20} MiB over 200 sessions and 50k values");
    }

    [Fact]
    public void FinalizerReleasesForgottenValues()
    {
        var before = OrtHandleCount();
        Forget();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(before, OrtHandleCount());

        static void Forget()
        {
            for (var i = 0; i < 100; i++)
            {
                OrtValue.Allocate(TensorElementType.Float, [4]);
            }
        }
    }

    private static long OrtHandleCount() => OrtHandleCounter.Live;

    private static long ResidentBytes()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
