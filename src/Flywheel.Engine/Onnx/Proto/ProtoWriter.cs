using System.Buffers.Binary;
using System.Text;

namespace Flywheel.Onnx.Proto;

/// <summary>
/// Writes protocol buffer wire format into a growable buffer. Only what ONNX files need:
/// varints (wire type 0), 32-bit floats (wire type 5) and length-delimited fields (wire type 2).
/// Nested messages are written into their own writer first so their length is known.
/// </summary>
internal sealed class ProtoWriter
{
    private byte[] _buffer = new byte[256];
    private int _length;

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public void WriteVarint(int field, long value)
    {
        WriteTag(field, 0);
        WriteRawVarint((ulong)value);
    }

    public void WriteFloat(int field, float value)
    {
        WriteTag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        WriteRaw(bytes);
    }

    public void WriteString(int field, string value) => WriteBytes(field, Encoding.UTF8.GetBytes(value));

    public void WriteBytes(int field, ReadOnlySpan<byte> value)
    {
        WriteTag(field, 2);
        WriteRawVarint((ulong)value.Length);
        WriteRaw(value);
    }

    public void WriteMessage(int field, ProtoWriter message) => WriteBytes(field, message.WrittenSpan);

    /// <summary>Writes repeated int64 values as one packed field (proto3 default for scalars).</summary>
    public void WritePackedVarints(int field, ReadOnlySpan<long> values)
    {
        var packed = new ProtoWriter();
        foreach (var v in values)
        {
            packed.WriteRawVarint((ulong)v);
        }

        WriteBytes(field, packed.WrittenSpan);
    }

    /// <summary>Writes repeated floats as one packed field.</summary>
    public void WritePackedFloats(int field, ReadOnlySpan<float> values)
    {
        WriteTag(field, 2);
        WriteRawVarint((ulong)values.Length * 4);
        Span<byte> bytes = stackalloc byte[4];
        foreach (var v in values)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes, v);
            WriteRaw(bytes);
        }
    }

    private void WriteTag(int field, int wireType) => WriteRawVarint((ulong)((field << 3) | wireType));

    private void WriteRawVarint(ulong value)
    {
        EnsureCapacity(10);
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }

        _buffer[_length++] = (byte)value;
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        EnsureCapacity(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void EnsureCapacity(int extra)
    {
        if (_length + extra <= _buffer.Length)
        {
            return;
        }

        var size = Math.Max(_buffer.Length * 2L, (long)_length + extra);
        if (size > Array.MaxLength)
        {
            size = Array.MaxLength;
            if (_length + extra > size)
            {
                throw new InvalidOperationException("An ONNX model file over 2 GB: write its weights as external data (ModelBuilderOptions.ExternalData).");
            }
        }

        Array.Resize(ref _buffer, (int)size);
    }
}
