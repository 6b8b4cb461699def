using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Flywheel.Models.Import;

/// <summary>One tensor's entry in a safetensors header: dtype name, shape, and byte range after the header.</summary>
public sealed record SafetensorsEntry(string DType, long[] Shape, long Begin, long End)
{
    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);
}

/// <summary>
/// Reads a .safetensors file: an 8-byte little-endian header length, a JSON header mapping tensor names to
/// dtype, shape and data_offsets, then the raw little-endian data. The file is memory-mapped; only the tensor
/// asked for is converted into a managed array, so a checkpoint larger than memory can be read tensor by tensor.
/// F32, F16 and BF16 are read (as float32); other dtypes are refused by name.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _dataStart;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer, long dataStart, Dictionary<string, SafetensorsEntry> tensors)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        _dataStart = dataStart;
        Tensors = tensors;
    }

    /// <summary>The file read.</summary>
    public string Path { get; }

    /// <summary>Every tensor in the file by name (the __metadata__ entry left out).</summary>
    public IReadOnlyDictionary<string, SafetensorsEntry> Tensors { get; }

    /// <summary>The largest JSON header the format allows (safetensors' own reader refuses longer ones).</summary>
    public const int MaxHeaderBytes = 100_000_000;

    /// <summary>Maps <paramref name="path"/> and parses its header; throws <see cref="ModelConfigException"/> on a malformed file.</summary>
    public static SafetensorsFile Open(string path)
    {
        // The length of what a link points at: FIFOs and devices report 0 and are refused here, unmapped.
        var length = LocalFile.Length(path);
        if (length < 8)
        {
            throw new ModelConfigException($"{path}: not a safetensors file (shorter than its 8-byte header length; FIFOs and devices have none)");
        }

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor view;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            map?.Dispose();
            throw new ModelConfigException($"{path}: cannot be mapped: {e.Message}", e);
        }

        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        pointer += view.PointerOffset;
        try
        {
            var headerLength = BitConverter.ToInt64(new ReadOnlySpan<byte>(pointer, 8));
            if (headerLength <= 0 || headerLength > length - 8 || headerLength > int.MaxValue)
            {
                throw new ModelConfigException($"{path}: header length {headerLength} does not fit the file ({length} bytes)");
            }

            if (headerLength > MaxHeaderBytes)
            {
                throw new ModelConfigException($"{path}: header length {headerLength} is over the format's limit of {MaxHeaderBytes} bytes");
            }

            Dictionary<string, SafetensorsEntry> tensors;
            try
            {
                tensors = ParseHeader(path, new ReadOnlySpan<byte>(pointer + 8, (int)headerLength), length - 8 - headerLength);
            }
            catch (System.Text.Json.JsonException e)
            {
                throw new ModelConfigException($"{path}: the header is not valid JSON: {e.Message}", e);
            }

            return new SafetensorsFile(path, map, view, pointer, 8 + headerLength, tensors);
        }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>The tensor's elements as float32 (row-major, as stored).</summary>
    public float[] ReadFloats(string name)
    {
        if (!Tensors.TryGetValue(name, out var entry))
        {
            throw new ModelConfigException($"{Path}: no tensor '{name}'");
        }

        var count = checked((int)entry.ElementCount);
        var bytes = new ReadOnlySpan<byte>(_base + _dataStart + entry.Begin, checked((int)(entry.End - entry.Begin)));
        var result = new float[count];
        switch (entry.DType)
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case "F16":
                var halves = MemoryMarshal.Cast<byte, Half>(bytes);
                for (var i = 0; i < count; i++)
                {
                    result[i] = (float)halves[i];
                }

                break;
            case "BF16":
                // bfloat16 is the upper half of a float32.
                var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
                for (var i = 0; i < count; i++)
                {
                    result[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
                }

                break;
            default:
                throw new ModelConfigException($"{Path}: tensor '{name}' has dtype {entry.DType}; only F32, F16 and BF16 are supported");
        }

        return result;
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    internal static int ElementSize(string dtype) => dtype switch
    {
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "F64" or "I64" or "U64" => 8,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    private static Dictionary<string, SafetensorsEntry> ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        using var doc = JsonDocument.Parse(header.ToArray());
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ModelConfigException($"{path}: the header is not a JSON object");
        }

        var tensors = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                continue;
            }

            ModelConfigException Bad(string why) => new($"{path}: tensor '{p.Name}' {why}");
            if (p.Value.ValueKind != JsonValueKind.Object
                || !p.Value.TryGetProperty("dtype", out var dtypeValue) || dtypeValue.ValueKind != JsonValueKind.String)
            {
                throw Bad("has no dtype string (each entry is an object of dtype, shape and data_offsets)");
            }

            var dtype = dtypeValue.GetString()!;
            var shape = Counts(p.Value, "shape") ?? throw Bad("has no shape of non-negative integers");
            var offsets = Counts(p.Value, "data_offsets") is { Length: 2 } pair ? pair : throw Bad("has no data_offsets pair of non-negative integers");
            long elements = 1;
            foreach (var d in shape)
            {
                elements = d == 0 || elements <= long.MaxValue / d ? elements * d : throw Bad($"has a shape [{string.Join(", ", shape)}] too large to hold");
            }

            var entry = new SafetensorsEntry(dtype, shape, offsets[0], offsets[1]);
            var size = ElementSize(dtype);
            if (entry.End > dataLength || entry.End < entry.Begin || (size > 0 && (elements > long.MaxValue / size || entry.End - entry.Begin != elements * size)))
            {
                throw Bad($"has data_offsets [{string.Join(", ", offsets)}] that do not fit its {dtype} shape [{string.Join(", ", shape)}] or the file");
            }

            tensors[p.Name] = entry;
        }

        return tensors;
    }

    /// <summary>The array <paramref name="name"/> of <paramref name="entry"/> as non-negative integers, or null when it is not one.</summary>
    private static long[]? Counts(JsonElement entry, string name)
    {
        if (!entry.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        var values = new long[array.GetArrayLength()];
        var i = 0;
        foreach (var v in array.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out values[i]) || values[i] < 0)
            {
                return null;
            }

            i++;
        }

        return values;
    }
}
