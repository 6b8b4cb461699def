// Over 400 lines: one reader and one writer per ONNX message, kept side by side so each field number is checked against onnx.proto in one place.
namespace Flywheel.Onnx.Proto;

/// <summary>
/// Maps <see cref="OnnxModel"/> to and from the ONNX protobuf wire format. Field numbers are those of
/// onnx.proto (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto, TypeProto).
/// </summary>
internal static class OnnxSerializer
{
    // ModelProto
    private const int ModelIrVersion = 1, ModelProducerName = 2, ModelProducerVersion = 3, ModelGraph = 7, ModelOpsetImport = 8;

    // OperatorSetIdProto
    private const int OpsetDomain = 1, OpsetVersion = 2;

    // GraphProto
    private const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12;

    // NodeProto
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5, NodeDomain = 7;

    // AttributeProto
    private const int AttrName = 1, AttrF = 2, AttrI = 3, AttrS = 4, AttrT = 5, AttrG = 6, AttrFloats = 7, AttrInts = 8, AttrType = 20;

    // TensorProto
    private const int TensorDims = 1, TensorElementTypeField = 2, TensorFloatData = 4, TensorInt32Data = 5, TensorInt64Data = 7, TensorName = 8, TensorRawData = 9, TensorExternalData = 13, TensorDataLocation = 14;

    // StringStringEntryProto (TensorProto.external_data: "location", "offset", "length"); DataLocation.EXTERNAL
    private const int EntryKey = 1, EntryValue = 2, DataLocationExternal = 1;

    // ValueInfoProto / TypeProto / TypeProto.Tensor / TensorShapeProto / Dimension
    private const int ValueInfoName = 1, ValueInfoType = 2, TypeTensor = 1, TensorTypeElem = 1, TensorTypeShape = 2, ShapeDim = 1, DimValue = 1, DimParam = 2;

    public static byte[] Write(OnnxModel model)
    {
        var w = new ProtoWriter();
        w.WriteVarint(ModelIrVersion, model.IrVersion);
        w.WriteString(ModelProducerName, model.ProducerName);
        w.WriteString(ModelProducerVersion, model.ProducerVersion);
        w.WriteMessage(ModelGraph, WriteGraph(model.Graph));
        foreach (var (domain, version) in model.OpsetImports)
        {
            var opset = new ProtoWriter();
            opset.WriteString(OpsetDomain, domain);
            opset.WriteVarint(OpsetVersion, version);
            w.WriteMessage(ModelOpsetImport, opset);
        }

        return w.WrittenSpan.ToArray();
    }

    private static ProtoWriter WriteGraph(OnnxGraph graph)
    {
        var w = new ProtoWriter();
        foreach (var node in graph.Nodes)
        {
            w.WriteMessage(GraphNode, WriteNode(node));
        }

        w.WriteString(GraphName, graph.Name);
        foreach (var tensor in graph.Initializers)
        {
            w.WriteMessage(GraphInitializer, WriteTensor(tensor));
        }

        foreach (var input in graph.Inputs)
        {
            w.WriteMessage(GraphInput, WriteValueInfo(input));
        }

        foreach (var output in graph.Outputs)
        {
            w.WriteMessage(GraphOutput, WriteValueInfo(output));
        }

        return w;
    }

    private static ProtoWriter WriteNode(OnnxNode node)
    {
        var w = new ProtoWriter();
        foreach (var input in node.Inputs)
        {
            w.WriteString(NodeInput, input);
        }

        foreach (var output in node.Outputs)
        {
            w.WriteString(NodeOutput, output);
        }

        w.WriteString(NodeName, node.Name);
        w.WriteString(NodeOpType, node.OpType);
        foreach (var attribute in node.Attributes)
        {
            w.WriteMessage(NodeAttribute, WriteAttribute(attribute));
        }

        if (node.Domain.Length > 0)
        {
            w.WriteString(NodeDomain, node.Domain);
        }

        return w;
    }

    private static ProtoWriter WriteAttribute(OnnxAttribute a)
    {
        var w = new ProtoWriter();
        w.WriteString(AttrName, a.Name);
        switch (a.Type)
        {
            case OnnxAttributeType.Float: w.WriteFloat(AttrF, a.FloatValue); break;
            case OnnxAttributeType.Int: w.WriteVarint(AttrI, a.IntValue); break;
            case OnnxAttributeType.String: w.WriteString(AttrS, a.StringValue!); break;
            case OnnxAttributeType.Tensor: w.WriteMessage(AttrT, WriteTensor(a.TensorValue!)); break;
            case OnnxAttributeType.Graph: w.WriteMessage(AttrG, WriteGraph(a.GraphValue!)); break;
            case OnnxAttributeType.Floats: w.WritePackedFloats(AttrFloats, a.Floats); break;
            case OnnxAttributeType.Ints: w.WritePackedVarints(AttrInts, a.Ints); break;
            default: throw new ArgumentOutOfRangeException(nameof(a), a.Type, "Unsupported attribute type.");
        }

        w.WriteVarint(AttrType, (long)a.Type);
        return w;
    }

    private static ProtoWriter WriteTensor(OnnxTensor t)
    {
        var w = new ProtoWriter();
        w.WritePackedVarints(TensorDims, t.Dims);
        w.WriteVarint(TensorElementTypeField, (long)t.DataType);
        w.WriteString(TensorName, t.Name);
        if (t.ExternalData is not { } e)
        {
            w.WriteBytes(TensorRawData, t.RawData);
            return w;
        }

        foreach (var (key, value) in new[] { ("location", e.Location), ("offset", e.Offset.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("length", e.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)) })
        {
            var entry = new ProtoWriter();
            entry.WriteString(EntryKey, key);
            entry.WriteString(EntryValue, value);
            w.WriteMessage(TensorExternalData, entry);
        }

        w.WriteVarint(TensorDataLocation, DataLocationExternal);
        return w;
    }

    private static ProtoWriter WriteValueInfo(OnnxValueInfo v)
    {
        var shape = new ProtoWriter();
        foreach (var d in v.Shape)
        {
            var dim = new ProtoWriter();
            if (d.Symbol is null)
            {
                dim.WriteVarint(DimValue, d.Value);
            }
            else
            {
                dim.WriteString(DimParam, d.Symbol);
            }

            shape.WriteMessage(ShapeDim, dim);
        }

        var tensorType = new ProtoWriter();
        tensorType.WriteVarint(TensorTypeElem, (long)v.DataType);
        tensorType.WriteMessage(TensorTypeShape, shape);
        var type = new ProtoWriter();
        type.WriteMessage(TypeTensor, tensorType);

        var w = new ProtoWriter();
        w.WriteString(ValueInfoName, v.Name);
        w.WriteMessage(ValueInfoType, type);
        return w;
    }

    public static OnnxModel Read(ReadOnlySpan<byte> bytes)
    {
        var model = new OnnxModel();
        model.OpsetImports.Clear();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case ModelIrVersion: model.IrVersion = r.ReadVarint(); break;
                case ModelProducerName: model.ProducerName = r.ReadString(); break;
                case ModelProducerVersion: model.ProducerVersion = r.ReadString(); break;
                case ModelGraph: model.Graph = ReadGraph(r.ReadBytes()); break;
                case ModelOpsetImport:
                    var (domain, version) = ReadOpset(r.ReadBytes());
                    model.OpsetImports[domain] = version;
                    break;
                default: r.Skip(); break;
            }
        }

        return model;
    }

    private static (string Domain, long Version) ReadOpset(ReadOnlySpan<byte> bytes)
    {
        var (domain, version) = ("", 0L);
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case OpsetDomain: domain = r.ReadString(); break;
                case OpsetVersion: version = r.ReadVarint(); break;
                default: r.Skip(); break;
            }
        }

        return (domain, version);
    }

    private static OnnxGraph ReadGraph(ReadOnlySpan<byte> bytes)
    {
        var graph = new OnnxGraph();
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case GraphNode: graph.Nodes.Add(ReadNode(r.ReadBytes())); break;
                case GraphName: graph.Name = r.ReadString(); break;
                case GraphInitializer: graph.Initializers.Add(ReadTensor(r.ReadBytes())); break;
                case GraphInput: graph.Inputs.Add(ReadValueInfo(r.ReadBytes())); break;
                case GraphOutput: graph.Outputs.Add(ReadValueInfo(r.ReadBytes())); break;
                default: r.Skip(); break;
            }
        }

        return graph;
    }

    internal static OnnxNode ReadNode(ReadOnlySpan<byte> bytes)
    {
        List<string> inputs = [], outputs = [];
        List<OnnxAttribute> attributes = [];
        string name = "", opType = "", domain = "";
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case NodeInput: inputs.Add(r.ReadString()); break;
                case NodeOutput: outputs.Add(r.ReadString()); break;
                case NodeName: name = r.ReadString(); break;
                case NodeOpType: opType = r.ReadString(); break;
                case NodeAttribute: attributes.Add(ReadAttribute(r.ReadBytes())); break;
                case NodeDomain: domain = r.ReadString(); break;
                default: r.Skip(); break;
            }
        }

        return new OnnxNode(opType, inputs, outputs, name, domain, attributes);
    }

    private static OnnxAttribute ReadAttribute(ReadOnlySpan<byte> bytes)
    {
        string name = "";
        float f = 0;
        long i = 0;
        string? s = null;
        OnnxTensor? t = null;
        OnnxGraph? g = null;
        List<long> ints = [];
        List<float> floats = [];
        var type = 0L;
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case AttrName: name = r.ReadString(); break;
                case AttrF: f = r.ReadFloat(); break;
                case AttrI: i = r.ReadVarint(); break;
                case AttrS: s = r.ReadString(); break;
                case AttrT: t = ReadTensor(r.ReadBytes()); break;
                case AttrG: g = ReadGraph(r.ReadBytes()); break;
                case AttrFloats: r.ReadFloats(floats); break;
                case AttrInts: r.ReadInt64s(ints); break;
                case AttrType: type = r.ReadVarint(); break;
                default: r.Skip(); break;
            }
        }

        return (OnnxAttributeType)type switch
        {
            OnnxAttributeType.Float => OnnxAttribute.Float(name, f),
            OnnxAttributeType.Int => OnnxAttribute.Int(name, i),
            OnnxAttributeType.String => OnnxAttribute.String(name, s ?? ""),
            OnnxAttributeType.Tensor => OnnxAttribute.Tensor(name, t ?? throw new InvalidDataException($"Attribute '{name}' has no tensor.")),
            OnnxAttributeType.Graph => OnnxAttribute.Graph(name, g ?? throw new InvalidDataException($"Attribute '{name}' has no graph.")),
            OnnxAttributeType.Floats => OnnxAttribute.FloatList(name, [.. floats]),
            OnnxAttributeType.Ints => OnnxAttribute.IntList(name, [.. ints]),
            _ => throw new InvalidDataException($"Attribute '{name}' has unsupported type {type}."),
        };
    }

    private static OnnxTensor ReadTensor(ReadOnlySpan<byte> bytes)
    {
        List<long> dims = [];
        List<float> floatData = [];
        List<long> intData = [];
        var dataType = TensorElementType.Undefined;
        string name = "";
        byte[]? raw = null;
        var location = 0L;
        var external = new Dictionary<string, string>(StringComparer.Ordinal);
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case TensorDims: r.ReadInt64s(dims); break;
                case TensorElementTypeField: dataType = (TensorElementType)r.ReadVarint(); break;
                case TensorFloatData: r.ReadFloats(floatData); break;
                case TensorInt32Data or TensorInt64Data: r.ReadInt64s(intData); break;
                case TensorName: name = r.ReadString(); break;
                case TensorRawData: raw = r.ReadBytes().ToArray(); break;
                case TensorExternalData:
                    var (key, value) = ReadEntry(r.ReadBytes());
                    external[key] = value;
                    break;
                case TensorDataLocation: location = r.ReadVarint(); break;
                default: r.Skip(); break;
            }
        }

        if (location == DataLocationExternal)
        {
            long Number(string key) => external.TryGetValue(key, out var v) ? long.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : 0;
            if (!external.TryGetValue("location", out var file) || !external.ContainsKey("length"))
            {
                throw new InvalidDataException($"Tensor '{name}' is external but names no location or length.");
            }

            return OnnxTensor.FromExternalData(name, dataType, [.. dims], new OnnxExternalData(file, Number("offset"), Number("length")));
        }

        raw ??= dataType switch
        {
            TensorElementType.Float => OnnxTensor.FromFloats(name, [], [.. floatData]).RawData,
            TensorElementType.Int64 => OnnxTensor.FromInt64s(name, [], [.. intData]).RawData,
            TensorElementType.Int32 => OnnxTensor.FromInt32s(name, [], intData.Select(v => (int)v).ToArray()).RawData,
            _ => [],
        };
        return new OnnxTensor(name, dataType, [.. dims], raw);
    }

    private static (string Key, string Value) ReadEntry(ReadOnlySpan<byte> bytes)
    {
        var (key, value) = ("", "");
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            switch (r.FieldNumber)
            {
                case EntryKey: key = r.ReadString(); break;
                case EntryValue: value = r.ReadString(); break;
                default: r.Skip(); break;
            }
        }

        return (key, value);
    }

    internal static OnnxValueInfo ReadValueInfo(ReadOnlySpan<byte> bytes)
    {
        string name = "";
        var dataType = TensorElementType.Undefined;
        List<OnnxDim> shape = [];
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            if (r.FieldNumber == ValueInfoName)
            {
                name = r.ReadString();
            }
            else if (r.FieldNumber == ValueInfoType)
            {
                var type = new ProtoReader(r.ReadBytes());
                while (type.Next())
                {
                    if (type.FieldNumber != TypeTensor)
                    {
                        type.Skip();
                        continue;
                    }

                    var tensorType = new ProtoReader(type.ReadBytes());
                    while (tensorType.Next())
                    {
                        if (tensorType.FieldNumber == TensorTypeElem)
                        {
                            dataType = (TensorElementType)tensorType.ReadVarint();
                        }
                        else if (tensorType.FieldNumber == TensorTypeShape)
                        {
                            ReadShape(tensorType.ReadBytes(), shape);
                        }
                        else
                        {
                            tensorType.Skip();
                        }
                    }
                }
            }
            else
            {
                r.Skip();
            }
        }

        return new OnnxValueInfo(name, dataType, shape);
    }

    private static void ReadShape(ReadOnlySpan<byte> bytes, List<OnnxDim> shape)
    {
        var r = new ProtoReader(bytes);
        while (r.Next())
        {
            if (r.FieldNumber != ShapeDim)
            {
                r.Skip();
                continue;
            }

            var dim = new ProtoReader(r.ReadBytes());
            OnnxDim value = new(0, "?");
            while (dim.Next())
            {
                switch (dim.FieldNumber)
                {
                    case DimValue: value = dim.ReadVarint(); break;
                    case DimParam: value = dim.ReadString(); break;
                    default: dim.Skip(); break;
                }
            }

            shape.Add(value);
        }
    }
}
