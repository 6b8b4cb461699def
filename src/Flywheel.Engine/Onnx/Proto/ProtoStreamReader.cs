namespace Flywheel.Onnx.Proto;

/// <summary>
/// Reads protocol buffer wire format field by field from a seekable stream, up to <c>end</c>: the stream form
/// of <see cref="ProtoReader"/> for messages too large to hold (a model file with its weights inline). Skipping
/// a field seeks past it, so a large field that is not wanted (an initializer's raw_data) is never read.
/// </summary>
internal sealed class ProtoStreamReader
{
    private readonly Stream _stream;
    private readonly long _end;

    /// <summary>A reader over <paramref name="stream"/> from its position to <paramref name="end"/> (exclusive).</summary>
    public ProtoStreamReader(Stream stream, long end)
    {
        if (end > stream.Length)
        {
            throw new InvalidDataException("Truncated protobuf message.");
        }

        (_stream, _end) = (stream, end);
    }

    public int FieldNumber { get; private set; }

    public int WireType { get; private set; }

    /// <summary>Moves to the next field; false at the end of the message.</summary>
    public bool Next()
    {
        if (_stream.Position >= _end)
        {
            return false;
        }

        var tag = ReadRawVarint();
        FieldNumber = (int)(tag >> 3);
        WireType = (int)(tag & 7);
        return true;
    }

    public long ReadVarint() => (long)ReadRawVarint();

    /// <summary>A length-delimited field's bytes, refused when longer than <paramref name="maxLength"/>.</summary>
    public byte[] ReadBytes(int maxLength)
    {
        var length = ReadLength();
        if (length > maxLength)
        {
            throw new InvalidDataException($"Protobuf field {FieldNumber} is {length} bytes, over the {maxLength} this reader takes whole.");
        }

        var bytes = new byte[length];
        _stream.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>A reader over the length-delimited field at hand (a nested message); <see cref="SkipRest"/> leaves it.</summary>
    public ProtoStreamReader Enter()
    {
        var length = ReadLength(); // first: the message starts after its length
        return new(_stream, _stream.Position + length);
    }

    /// <summary>Moves past whatever is left of this message.</summary>
    public void SkipRest() => _stream.Position = _end;

    public void Skip()
    {
        switch (WireType)
        {
            case 0: ReadRawVarint(); break;
            case 1: Seek(8); break;
            case 2: Seek(ReadLength()); break;
            case 5: Seek(4); break;
            default: throw new InvalidDataException($"Unsupported protobuf wire type {WireType}.");
        }
    }

    private long ReadLength()
    {
        var length = (long)ReadRawVarint();
        if (length < 0 || _stream.Position + length > _end)
        {
            throw new InvalidDataException("Truncated length-delimited protobuf field.");
        }

        return length;
    }

    private void Seek(long count)
    {
        if (_stream.Position + count > _end)
        {
            throw new InvalidDataException("Truncated protobuf field.");
        }

        _stream.Position += count;
    }

    private ulong ReadRawVarint()
    {
        ulong result = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = _stream.Position < _end ? _stream.ReadByte() : -1;
            if (b < 0)
            {
                throw new InvalidDataException("Truncated protobuf varint.");
            }

            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }

        throw new InvalidDataException("Malformed protobuf varint.");
    }
}
