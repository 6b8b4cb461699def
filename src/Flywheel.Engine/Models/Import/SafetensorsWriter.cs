using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Flywheel.Models.Import;

/// <summary>
/// Writes a .safetensors file from float32 data, stored as F32, F16 or BF16 (BF16 rounds to nearest even).
/// Small by design: it holds the tensors it is given, for test checkpoints and fixtures.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>One tensor to write: name, dtype ("F32", "F16" or "BF16"), shape and row-major values.</summary>
    public sealed record Tensor(string Name, string DType, long[] Shape, float[] Values);

    public static void Write(string path, IReadOnlyList<Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var blobs = tensors.Select(Encode).ToArray();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is not null)
        {
            header["__metadata__"] = metadata;
        }

        long offset = 0;
        for (var i = 0; i < tensors.Count; i++)
        {
            header[tensors[i].Name] = new Dictionary<string, object> { ["dtype"] = tensors[i].DType, ["shape"] = tensors[i].Shape, ["data_offsets"] = new[] { offset, offset + blobs[i].Length } };
            offset += blobs[i].Length;
        }

        // The header is padded with spaces to a multiple of 8 bytes, so the data after it stays aligned.
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        var padded = (json.Length + 7) / 8 * 8;
        using var file = File.Create(path);
        file.Write(BitConverter.GetBytes((long)padded));
        file.Write(json);
        file.Write(Enumerable.Repeat((byte)' ', padded - json.Length).ToArray());
        foreach (var blob in blobs)
        {
            file.Write(blob);
        }
    }

    /// <summary>The float32 value a BF16 store of <paramref name="value"/> reads back as (round to nearest even).</summary>
    public static float RoundToBFloat16(float value) => BitConverter.Int32BitsToSingle(ToBFloat16(value) << 16);

    private static byte[] Encode(Tensor t)
    {
        if (t.Values.LongLength != t.Shape.Aggregate(1L, (a, d) => a * d))
        {
            throw new ArgumentException($"tensor '{t.Name}' has {t.Values.Length} values for shape [{string.Join(", ", t.Shape)}]");
        }

        switch (t.DType)
        {
            case "F32":
                return MemoryMarshal.AsBytes(t.Values.AsSpan()).ToArray();
            case "F16":
                var halves = t.Values.Select(v => (Half)v).ToArray();
                return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
            case "BF16":
                var raw = t.Values.Select(ToBFloat16).ToArray();
                return MemoryMarshal.AsBytes(raw.AsSpan()).ToArray();
            default:
                throw new ArgumentException($"tensor '{t.Name}': dtype {t.DType} is not written (F32, F16 or BF16)");
        }
    }

    private static ushort ToBFloat16(float value)
    {
        var bits = (uint)BitConverter.SingleToInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40); // keep it a NaN
        }

        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }
}
