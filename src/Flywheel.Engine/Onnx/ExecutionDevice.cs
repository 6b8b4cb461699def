namespace Flywheel.Onnx;

/// <summary>Where ONNX Runtime runs the model: its CPU kernels, or the CUDA execution provider.</summary>
public enum ExecutionDevice
{
    Cpu,
    Cuda,
}

/// <summary>Names of <see cref="ExecutionDevice"/> as the command line and config files spell them.</summary>
public static class ExecutionDevices
{
    /// <summary>Parses "cpu" or "cuda" (any case); throws <see cref="ArgumentException"/> naming the choices.</summary>
    public static ExecutionDevice Parse(string name) => name.ToLowerInvariant() switch
    {
        "cpu" => ExecutionDevice.Cpu,
        "cuda" => ExecutionDevice.Cuda,
        _ => throw new ArgumentException($"device must be cpu or cuda; got '{name}'.", nameof(name)),
    };

    public static string Name(this ExecutionDevice device) => device == ExecutionDevice.Cuda ? "cuda" : "cpu";
}
