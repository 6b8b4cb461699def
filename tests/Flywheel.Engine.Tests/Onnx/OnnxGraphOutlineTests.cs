using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Engine.Tests.Onnx;

/// <summary>
/// <see cref="OnnxGraphOutline"/>: the structure of a model file read without its weights is the structure the
/// full reader finds (nodes with their attributes and subgraphs, inputs, outputs, initializer names, types and
/// shapes), for weights inline and in an external data file; it never opens the data file, and a cut-off file
/// is an error, not a short outline.
/// </summary>
public sealed class OnnxGraphOutlineTests
{
    private static string Write(string name, ModelBuilderOptions options)
    {
        var dir = TestScratch.Path($"outline-{name}-{Environment.ProcessId}");
        ModelFolderWriter.Write(dir, options, tokenizerJsonPath: null);
        return dir;
    }

    [Theory]
    [InlineData("model.onnx")]
    [InlineData(LlamaModelBuilder.MixedFileName)]
    public void TheOutlineOfAnInlineLoraGraphIsWhatTheFullReaderFinds(string file)
    {
        var path = Path.Combine(TinyLoraModel.Dir, file);
        AssertSameStructure(OnnxModel.Load(path).Graph, OnnxGraphOutline.Read(path));
    }

    [Fact]
    public void AnInt4GraphWithExternalDataIsOutlinedWithoutItsDataFile()
    {
        var dir = Write("int4-external", ModelBuilderOptions.Tiny with { Precision = ModelPrecision.Int4, ExternalData = true, LoraTargets = [LoraTarget.QProj, LoraTarget.DownProj] });
        var path = Path.Combine(dir, "model.onnx");
        var full = OnnxModel.Load(path).Graph;
        AssertSameStructure(full, OnnxGraphOutline.Read(path));

        // Without the data file the full reader fails and the outline is the same as before: it never reads it.
        File.Delete(Path.Combine(dir, ModelFolderWriter.ExternalDataFileName));
        Assert.Throws<FileNotFoundException>(() => OnnxModel.Load(path));
        AssertSameStructure(full, OnnxGraphOutline.Read(path));
    }

    [Fact]
    public void ACutOffModelFileIsAnError()
    {
        var source = Path.Combine(TinyLoraModel.Dir, "model.onnx");
        var cut = TestScratch.Path($"outline-cut-{Environment.ProcessId}.onnx");
        var bytes = File.ReadAllBytes(source);
        File.WriteAllBytes(cut, bytes.AsSpan(0, bytes.Length / 2).ToArray());
        Assert.Throws<InvalidDataException>(() => OnnxGraphOutline.Read(cut));
    }

    private static void AssertSameStructure(OnnxGraph full, OnnxGraphOutline outline)
    {
        Assert.Equal(full.Inputs, outline.Inputs, ValueInfoEquals);
        Assert.Equal(full.Outputs, outline.Outputs, ValueInfoEquals);
        Assert.Equal(full.Initializers.Select(t => (t.Name, t.DataType, string.Join(',', t.Dims))), outline.Initializers.Select(t => (t.Name, t.DataType, string.Join(',', t.Dims))));
        Assert.Equal(full.Nodes.Count, outline.Nodes.Count);
        for (var i = 0; i < full.Nodes.Count; i++)
        {
            var (a, b) = (full.Nodes[i], outline.Nodes[i]);
            Assert.Equal((a.OpType, a.Name, a.Domain), (b.OpType, b.Name, b.Domain));
            Assert.Equal(a.Inputs, b.Inputs);
            Assert.Equal(a.Outputs, b.Outputs);
            Assert.Equal(a.Attributes.Select(Describe), b.Attributes.Select(Describe));
        }

        Assert.Contains(outline.Nodes, n => n.OpType == "If"); // the LoRA branches: subgraphs came through
    }

    private static bool ValueInfoEquals(OnnxValueInfo a, OnnxValueInfo b) => a.Name == b.Name && a.DataType == b.DataType && a.Shape.SequenceEqual(b.Shape);

    private static string Describe(OnnxAttribute a) =>
        $"{a.Name}:{a.Type}:{a.IntValue}:{a.FloatValue}:{a.StringValue}:{string.Join(',', a.Ints)}:{string.Join(',', a.Floats)}:{a.GraphValue?.Nodes.Count}:{a.TensorValue?.Name}";
}
