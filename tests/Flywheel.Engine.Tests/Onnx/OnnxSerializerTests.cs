using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Engine.Tests.Onnx;

public sealed class OnnxSerializerTests
{
    [Fact]
    public void ModelRoundTripsThroughWireFormat()
    {
        var model = new OnnxModel { IrVersion = 9 };
        model.OpsetImports["com.microsoft"] = 1;
        var g = model.Graph;
        g.Name = "g";
        g.Inputs.Add(new OnnxValueInfo("x", TensorElementType.Float, ["batch", 3L]));
        g.Outputs.Add(new OnnxValueInfo("y", TensorElementType.Float, ["batch", 3L]));
        g.Initializers.Add(OnnxTensor.FromFloats("w", [3], [1.5f, -2f, 300000f]));
        g.Initializers.Add(OnnxTensor.FromInt64s("shape", [2], [-1, 3]));
        g.AddNode("Add", ["x", "w"], ["t"], "add0");
        g.AddNode("Gqa", ["t", ""], ["y"], "n1", "com.microsoft",
            OnnxAttribute.Int("num_heads", -7), OnnxAttribute.Float("scale", 0.125f), OnnxAttribute.String("s", "é"),
            OnnxAttribute.IntList("axes", 0, 300), OnnxAttribute.FloatList("f", 1f, 2.5f));

        var back = OnnxModel.FromBytes(model.ToBytes());

        Assert.Equal(9, back.IrVersion);
        Assert.Equal(21, back.OpsetImports[""]);
        Assert.Equal(1, back.OpsetImports["com.microsoft"]);
        Assert.Equal("g", back.Graph.Name);
        Assert.Equal(["batch", "3"], back.Graph.Inputs[0].Shape.Select(d => d.ToString()));
        Assert.Equal([1.5f, -2f, 300000f], back.Graph.Initializers[0].ToFloats());
        Assert.Equal([2L], back.Graph.Initializers[1].Dims);
        var node = back.Graph.Nodes[1];
        Assert.Equal(("Gqa", "com.microsoft", "n1"), (node.OpType, node.Domain, node.Name));
        Assert.Equal(["t", ""], node.Inputs);
        Assert.Equal(-7, node.Attributes[0].IntValue);
        Assert.Equal(0.125f, node.Attributes[1].FloatValue);
        Assert.Equal("é", node.Attributes[2].StringValue);
        Assert.Equal([0L, 300L], node.Attributes[3].Ints);
        Assert.Equal([1f, 2.5f], node.Attributes[4].Floats);
    }

    [Fact]
    public void TruncatedBytesAreRejected()
    {
        var model = new OnnxModel();
        model.Graph.Initializers.Add(OnnxTensor.FromFloats("w", [4], [1, 2, 3, 4]));
        var bytes = model.ToBytes();
        Assert.Throws<InvalidDataException>(() => OnnxModel.FromBytes(bytes.AsSpan(0, bytes.Length - 5)));
    }
}
