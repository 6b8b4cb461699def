namespace Flywheel.Onnx.Proto;

/// <summary>An initializer without its data: name, element type and shape.</summary>
public sealed record OnnxTensorInfo(string Name, TensorElementType DataType, IReadOnlyList<long> Dims);

/// <summary>
/// A model file's main graph without its weights: nodes, declared inputs and outputs, and each initializer's
/// name, type and shape. <see cref="Read"/> seeks past tensor data instead of reading it, so it costs the
/// graph's structure (kilobytes to a few megabytes), not the model's size, whether the weights are inline or in
/// an external data file (which it never opens). For questions about a graph's shape at load time; use
/// <see cref="OnnxModel.Load"/> for the values.
/// </summary>
public sealed class OnnxGraphOutline
{
    // ModelProto.graph; GraphProto node / initializer / input / output; TensorProto dims / data_type / name.
    private const int ModelGraph = 7;
    private const int GraphNode = 1, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;
    private const int TensorDims = 1, TensorDataType = 2, TensorName = 8;

    // A node or value info is read whole; one this large is not a structure but data (a Constant holding
    // weights), which this outline is meant never to read.
    private const int MaxMessageBytes = 64 << 20;

    private OnnxGraphOutline(List<OnnxNode> nodes, List<OnnxValueInfo> inputs, List<OnnxValueInfo> outputs, List<OnnxTensorInfo> initializers) =>
        (Nodes, Inputs, Outputs, Initializers) = (nodes, inputs, outputs, initializers);

    /// <summary>The main graph's nodes in file order (subgraphs of If and Loop inside their nodes' attributes).</summary>
    public IReadOnlyList<OnnxNode> Nodes { get; }

    public IReadOnlyList<OnnxValueInfo> Inputs { get; }

    public IReadOnlyList<OnnxValueInfo> Outputs { get; }

    /// <summary>The main graph's initializers, inline or external alike, without their data.</summary>
    public IReadOnlyList<OnnxTensorInfo> Initializers { get; }

    /// <summary>Reads the outline of the model file at <paramref name="path"/>; throws <see cref="InvalidDataException"/> for a malformed file.</summary>
    public static OnnxGraphOutline Read(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096);
        var (nodes, inputs, outputs, initializers) = (new List<OnnxNode>(), new List<OnnxValueInfo>(), new List<OnnxValueInfo>(), new List<OnnxTensorInfo>());
        var model = new ProtoStreamReader(file, file.Length);
        while (model.Next())
        {
            if (model.FieldNumber != ModelGraph)
            {
                model.Skip();
                continue;
            }

            var graph = model.Enter();
            while (graph.Next())
            {
                switch (graph.FieldNumber)
                {
                    case GraphNode: nodes.Add(OnnxSerializer.ReadNode(graph.ReadBytes(MaxMessageBytes))); break;
                    case GraphInitializer: initializers.Add(ReadTensorInfo(graph.Enter())); break;
                    case GraphInput: inputs.Add(OnnxSerializer.ReadValueInfo(graph.ReadBytes(MaxMessageBytes))); break;
                    case GraphOutput: outputs.Add(OnnxSerializer.ReadValueInfo(graph.ReadBytes(MaxMessageBytes))); break;
                    default: graph.Skip(); break;
                }
            }
        }

        return new OnnxGraphOutline(nodes, inputs, outputs, initializers);
    }

    /// <summary>An initializer's header; its data fields (raw_data, float_data, ...) are seeked past.</summary>
    private static OnnxTensorInfo ReadTensorInfo(ProtoStreamReader tensor)
    {
        var (name, dataType, dims) = ("", TensorElementType.Undefined, new List<long>());
        while (tensor.Next())
        {
            switch (tensor.FieldNumber)
            {
                case TensorDims when tensor.WireType == 0: dims.Add(tensor.ReadVarint()); break;
                case TensorDims: ReadPackedDims(tensor.ReadBytes(MaxMessageBytes), dims); break;
                case TensorDataType: dataType = (TensorElementType)tensor.ReadVarint(); break;
                case TensorName: name = System.Text.Encoding.UTF8.GetString(tensor.ReadBytes(MaxMessageBytes)); break;
                default: tensor.Skip(); break;
            }
        }

        return new OnnxTensorInfo(name, dataType, dims);
    }

    /// <summary>Packed dims (wire type 2): varints back to back.</summary>
    private static void ReadPackedDims(byte[] packed, List<long> dims)
    {
        var (value, shift) = (0UL, 0);
        foreach (var b in packed)
        {
            value |= (ulong)(b & 0x7F) << shift;
            shift += 7;
            if (b < 0x80)
            {
                dims.Add((long)value);
                (value, shift) = (0UL, 0);
            }
            else if (shift >= 64)
            {
                throw new InvalidDataException("Malformed protobuf varint in a tensor's dims.");
            }
        }

        if (shift != 0)
        {
            throw new InvalidDataException("Truncated protobuf varint in a tensor's dims.");
        }
    }
}
