using System.Runtime.InteropServices;

namespace Flywheel.Onnx.Proto;

/// <summary>A constant tensor in a graph (an initializer), stored as little-endian raw bytes.</summary>
public sealed class OnnxTensor
{
    public OnnxTensor(string name, TensorElementType dataType, long[] dims, byte[] rawData)
    {
        Name = name;
        DataType = dataType;
        Dims = dims;
        RawData = rawData;
    }

    /// <summary>A tensor whose bytes are in an external data file; <see cref="RawData"/> is empty.</summary>
    public static OnnxTensor FromExternalData(string name, TensorElementType dataType, long[] dims, OnnxExternalData location) =>
        new(name, dataType, dims, []) { ExternalData = location };

    /// <summary>Where the bytes are when they are not in the model file (ONNX external data); null when inline.</summary>
    public OnnxExternalData? ExternalData { get; private init; }

    public string Name { get; }

    public TensorElementType DataType { get; }

    public long[] Dims { get; }

    /// <summary>The elements, little-endian, row-major.</summary>
    public byte[] RawData { get; }

    public long ElementCount => Dims.Aggregate(1L, (a, d) => a * d);

    public static OnnxTensor FromFloats(string name, long[] dims, ReadOnlySpan<float> values) =>
        new(name, TensorElementType.Float, dims, MemoryMarshal.AsBytes(values).ToArray());

    public static OnnxTensor FromInt64s(string name, long[] dims, ReadOnlySpan<long> values) =>
        new(name, TensorElementType.Int64, dims, MemoryMarshal.AsBytes(values).ToArray());

    public static OnnxTensor FromInt32s(string name, long[] dims, ReadOnlySpan<int> values) =>
        new(name, TensorElementType.Int32, dims, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>The elements as floats (float16 widened exactly); throws unless the tensor is float32 or float16.</summary>
    public float[] ToFloats() => DataType switch
    {
        TensorElementType.Float => MemoryMarshal.Cast<byte, float>(RawData).ToArray(),
        TensorElementType.Float16 => Array.ConvertAll(MemoryMarshal.Cast<byte, Half>(RawData).ToArray(), h => (float)h),
        _ => throw new InvalidOperationException($"Tensor '{Name}' is {DataType}, not Float or Float16."),
    };
}

/// <summary>A graph input or output: name, element type and shape (each dim a number or a symbolic name).</summary>
public sealed record OnnxValueInfo(string Name, TensorElementType DataType, IReadOnlyList<OnnxDim> Shape);

/// <summary>One dimension of a declared shape: a fixed size or a symbolic name such as "batch_size".</summary>
public readonly record struct OnnxDim(long Value, string? Symbol)
{
    public static implicit operator OnnxDim(long value) => new(value, null);

    public static implicit operator OnnxDim(string symbol) => new(0, symbol);

    public override string ToString() => Symbol ?? Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>ONNX AttributeProto.AttributeType values.</summary>
public enum OnnxAttributeType
{
    Float = 1,
    Int = 2,
    String = 3,
    Tensor = 4,
    Graph = 5,
    Floats = 6,
    Ints = 7,
}

/// <summary>A node attribute. Create with the static factories.</summary>
public sealed class OnnxAttribute
{
    private OnnxAttribute(string name, OnnxAttributeType type)
    {
        Name = name;
        Type = type;
    }

    public string Name { get; }

    public OnnxAttributeType Type { get; }

    public long IntValue { get; private init; }

    public float FloatValue { get; private init; }

    public string? StringValue { get; private init; }

    public OnnxTensor? TensorValue { get; private init; }

    public long[] Ints { get; private init; } = [];

    /// <summary>A subgraph (the branches of If), which may read any value of the enclosing graph by name.</summary>
    public OnnxGraph? GraphValue { get; private init; }

    public float[] Floats { get; private init; } = [];

    public static OnnxAttribute Int(string name, long value) => new(name, OnnxAttributeType.Int) { IntValue = value };

    public static OnnxAttribute Float(string name, float value) => new(name, OnnxAttributeType.Float) { FloatValue = value };

    public static OnnxAttribute String(string name, string value) => new(name, OnnxAttributeType.String) { StringValue = value };

    public static OnnxAttribute Tensor(string name, OnnxTensor value) => new(name, OnnxAttributeType.Tensor) { TensorValue = value };

    public static OnnxAttribute Graph(string name, OnnxGraph value) => new(name, OnnxAttributeType.Graph) { GraphValue = value };

    public static OnnxAttribute IntList(string name, params long[] values) => new(name, OnnxAttributeType.Ints) { Ints = values };

    public static OnnxAttribute FloatList(string name, params float[] values) => new(name, OnnxAttributeType.Floats) { Floats = values };
}

/// <summary>One operator application.</summary>
public sealed record OnnxNode(
    string OpType,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    string Name,
    string Domain,
    IReadOnlyList<OnnxAttribute> Attributes);

/// <summary>A graph: nodes in topological order, declared inputs/outputs, and constant initializers.</summary>
public sealed class OnnxGraph
{
    public string Name { get; set; } = "main_graph";

    public List<OnnxNode> Nodes { get; } = [];

    public List<OnnxValueInfo> Inputs { get; } = [];

    public List<OnnxValueInfo> Outputs { get; } = [];

    public List<OnnxTensor> Initializers { get; } = [];

    /// <summary>Adds a node; an empty input name means an omitted optional input.</summary>
    public void AddNode(string opType, string[] inputs, string[] outputs, string name, string domain = "", params OnnxAttribute[] attributes) =>
        Nodes.Add(new OnnxNode(opType, inputs, outputs, name, domain, attributes));
}

/// <summary>An ONNX ModelProto held in memory: write with <see cref="Save"/>, read with <see cref="Load"/>.</summary>
public sealed class OnnxModel
{
    public long IrVersion { get; set; } = 10;

    public string ProducerName { get; set; } = "flywheel";

    public string ProducerVersion { get; set; } = "0.1";

    /// <summary>Operator set versions by domain ("" is the default ONNX domain, "com.microsoft" ORT's contrib ops).</summary>
    public Dictionary<string, long> OpsetImports { get; } = new() { [""] = 21 };

    public OnnxGraph Graph { get; set; } = new();

    public byte[] ToBytes() => OnnxSerializer.Write(this);

    public void Save(string path) => File.WriteAllBytes(path, ToBytes());

    /// <summary>
    /// Reads a model file, with the bytes of external-data initializers read from their files next to it (the
    /// loaded model holds every tensor inline).
    /// </summary>
    public static OnnxModel Load(string path)
    {
        var model = OnnxSerializer.Read(File.ReadAllBytes(path));
        var initializers = model.Graph.Initializers;
        for (var i = 0; i < initializers.Count; i++)
        {
            if (initializers[i].ExternalData is { } e)
            {
                using var file = File.OpenRead(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, e.Location));
                var bytes = new byte[e.Length];
                file.Position = e.Offset;
                file.ReadExactly(bytes);
                initializers[i] = new OnnxTensor(initializers[i].Name, initializers[i].DataType, initializers[i].Dims, bytes);
            }
        }

        return model;
    }

    /// <summary>Reads a model from bytes; external-data initializers keep their <see cref="OnnxTensor.ExternalData"/> reference.</summary>
    public static OnnxModel FromBytes(ReadOnlySpan<byte> bytes) => OnnxSerializer.Read(bytes);
}
