using System.Buffers.Binary;
using System.Text;

namespace Flywheel.Onnx.Proto;

/// <summary>
/// Reads protocol buffer wire format field by field from a span. The caller switches on
/// <see cref="FieldNumber"/> and reads the value with the method matching the wire type, or skips it.
/// </summary>
internal ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public ProtoReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
        FieldNumber = 0;
        WireType = 0;
    }

    public int FieldNumber { get; private set; }

    public int WireType { get; private set; }

    /// <summary>Moves to the next field; false at the end of the message.</summary>
    public bool Next()
    {
        if (_position >= _data.Length)
        {
            return false;
        }

        var tag = ReadRawVarint();
        FieldNumber = (int)(tag >> 3);
        WireType = (int)(tag & 7);
        return true;
    }

    public long ReadVarint() => (long)ReadRawVarint();

    public float ReadFloat()
    {
        var value = BinaryPrimitives.ReadSingleLittleEndian(_data.Slice(_position, 4));
        _position += 4;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes()
    {
        var length = checked((int)ReadRawVarint());
        if (length < 0 || _position + length > _data.Length)
        {
            throw new InvalidDataException("Truncated length-delimited protobuf field.");
        }

        var bytes = _data.Slice(_position, length);
        _position += length;
        return bytes;
    }

    public string ReadString() => Encoding.UTF8.GetString(ReadBytes());

    /// <summary>Reads a repeated int64 field, packed (wire type 2) or not (wire type 0), into <paramref name="values"/>.</summary>
    public void ReadInt64s(List<long> values)
    {
        if (WireType == 0)
        {
            values.Add(ReadVarint());
            return;
        }

        var inner = new ProtoReader(ReadBytes());
        while (inner._position < inner._data.Length)
        {
            values.Add((long)inner.ReadRawVarint());
        }
    }

    /// <summary>Reads a repeated float field, packed or not, into <paramref name="values"/>.</summary>
    public void ReadFloats(List<float> values)
    {
        if (WireType == 5)
        {
            values.Add(ReadFloat());
            return;
        }

        var bytes = ReadBytes();
        for (var i = 0; i + 4 <= bytes.Length; i += 4)
        {
            values.Add(BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(i, 4)));
        }
    }

    public void Skip()
    {
        switch (WireType)
        {
            case 0: ReadRawVarint(); break;
            case 1: _position += 8; break;
            case 2: ReadBytes(); break;
            case 5: _position += 4; break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {WireType}.");
        }
    }

    private ulong ReadRawVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException("Truncated protobuf varint.");
            }

            var b = _data[_position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new InvalidDataException("Malformed protobuf varint.");
    }
}
