namespace Flywheel.Onnx.Proto;

/// <summary>Where an initializer's bytes live when they are outside the model file (ONNX external data).</summary>
/// <param name="Location">File name, relative to the model file's folder.</param>
/// <param name="Offset">Byte offset of the tensor in that file.</param>
/// <param name="Length">Byte length of the tensor.</param>
public sealed record OnnxExternalData(string Location, long Offset, long Length);

/// <summary>
/// Appends initializers' bytes to one external data file (e.g. model.onnx.data, as ORT GenAI names it) as they
/// are made, so a model is written without holding its weights in memory and its .onnx file stays far below
/// protobuf's 2 GB limit. Each tensor starts on a 4096-byte boundary, so ONNX Runtime can memory-map it in
/// place. A tensor name added twice is written once: graphs sharing weights (model.onnx and model.mixed.onnx)
/// point at the same bytes. Not thread-safe; one builder writes at a time.
/// </summary>
public sealed class ExternalDataWriter : IDisposable
{
    private const int Alignment = 4096;
    private readonly FileStream _file;
    private readonly Dictionary<string, OnnxTensor> _written = new(StringComparer.Ordinal);

    /// <summary>Creates (or truncates) <paramref name="location"/> in <paramref name="directory"/>.</summary>
    public ExternalDataWriter(string directory, string location)
    {
        Location = location;
        _file = new FileStream(Path.Combine(directory, location), FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
    }

    /// <summary>The data file's name, relative to the model's folder.</summary>
    public string Location { get; }

    /// <summary>Bytes written so far, padding included.</summary>
    public long Length => _file.Length;

    /// <summary>
    /// Writes <paramref name="data"/> (little-endian, row-major) unless a tensor of this name was written before,
    /// and returns the initializer that refers to it.
    /// </summary>
    public OnnxTensor Add(string name, TensorElementType dataType, long[] dims, ReadOnlySpan<byte> data)
    {
        if (_written.TryGetValue(name, out var existing))
        {
            if (existing.DataType != dataType || existing.ExternalData!.Length != data.Length)
            {
                throw new InvalidOperationException($"Tensor '{name}' was written before with another type or size.");
            }

            return existing;
        }

        var padding = (Alignment - (_file.Position % Alignment)) % Alignment;
        _file.Write(new byte[padding]);
        var tensor = OnnxTensor.FromExternalData(name, dataType, dims, new OnnxExternalData(Location, _file.Position, data.Length));
        _file.Write(data);
        _written[name] = tensor;
        return tensor;
    }

    public void Dispose() => _file.Dispose();
}
