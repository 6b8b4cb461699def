namespace Flywheel.Onnx;

/// <summary>
/// ONNX's TensorProto.DataType, as the protobuf writer/reader (Flywheel.Onnx.Proto) spells it. ONNX Runtime's
/// Microsoft.ML.OnnxRuntime.Tensors.TensorElementType uses the same numbers.
/// </summary>
public enum TensorElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    BFloat16 = 16,
}
