namespace Flywheel.Onnx;

/// <summary>OrtErrorCode values of the C API.</summary>
public enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    ExecutionProviderFailure = 11,
}

/// <summary>An error reported by ONNX Runtime, carrying its code and its message unchanged.</summary>
public sealed class OrtException(OrtErrorCode errorCode, string message) : Exception(message)
{
    public OrtErrorCode ErrorCode { get; } = errorCode;
}
