using System.Runtime.InteropServices;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace Flywheel.Execution;

/// <summary>
/// The KV cache: per layer one key and one value buffer of [slots, kvHeads, maxLength, headSize] elements of
/// the model's KV type (float32, or float16 as CUDA exports keep it; <see cref="Models.ModelFolder.KvElementType"/>),
/// in native memory that never moves. GroupQueryAttention reads past K/V from, and writes new K/V into,
/// the same buffer (past and present share it), so a sequence's cache stays where it is for its lifetime.
/// Batch is the outermost dimension, so any contiguous range of slots is itself a valid
/// [rows, kvHeads, maxLength, headSize] tensor: that is how a decode batch runs over a slot range.
/// </summary>
public sealed unsafe class KvCache : IDisposable
{
    private readonly byte*[] _keys;
    private readonly byte*[] _values;

    /// <summary>Allocates the cache; <paramref name="elementType"/> is Float or Float16 (the model's past_key_values type).</summary>
    public KvCache(int layerCount, int slotCount, int kvHeadCount, int maxLength, int headSize, OrtElementType elementType = OrtElementType.Float)
    {
        ElementSize = SizeOf(elementType);
        (LayerCount, SlotCount, KvHeadCount, MaxLength, HeadSize, ElementType) = (layerCount, slotCount, kvHeadCount, maxLength, headSize, elementType);
        SlotElementCount = (long)kvHeadCount * maxLength * headSize;
        _keys = new byte*[layerCount];
        _values = new byte*[layerCount];
        var bytes = (nuint)(SlotElementCount * slotCount * ElementSize);
        for (var l = 0; l < layerCount; l++)
        {
            // Zeroed so unused positions hold finite numbers (masked anyway, but never NaN garbage); zero bits are 0.0 in either type.
            _keys[l] = (byte*)NativeMemory.AlignedAlloc(bytes, 64);
            _values[l] = (byte*)NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(_keys[l], bytes);
            NativeMemory.Clear(_values[l], bytes);
        }
    }

    /// <summary>Bytes of one element of <paramref name="type"/>, for the KV types the engine runs; throws naming any other.</summary>
    public static int SizeOf(OrtElementType type) => type switch
    {
        OrtElementType.Float => sizeof(float),
        OrtElementType.Float16 => sizeof(ushort),
        _ => throw new ArgumentException($"a KV cache of {type} elements is not supported (Float or Float16)", nameof(type)),
    };

    public int LayerCount { get; }

    public int SlotCount { get; }

    public int KvHeadCount { get; }

    public int MaxLength { get; }

    public int HeadSize { get; }

    /// <summary>The element type (Float or Float16).</summary>
    public OrtElementType ElementType { get; }

    /// <summary>Bytes per element: 4 for Float, 2 for Float16.</summary>
    public int ElementSize { get; }

    /// <summary>Elements per slot per layer per K or V: kvHeads * maxLength * headSize.</summary>
    public long SlotElementCount { get; }

    /// <summary>Bytes held in total.</summary>
    public long ByteCount => SlotElementCount * SlotCount * LayerCount * 2 * ElementSize;

    /// <summary>Start of <paramref name="slot"/>'s keys in <paramref name="layer"/>.</summary>
    public byte* Keys(int layer, int slot) => _keys[layer] + (slot * SlotElementCount * ElementSize);

    public byte* Values(int layer, int slot) => _values[layer] + (slot * SlotElementCount * ElementSize);

    /// <summary>Copies the first <paramref name="length"/> positions of a slot to another (all layers, K and V).</summary>
    public void CopySlot(int from, int to, int length)
    {
        var rowBytes = (long)HeadSize * length * ElementSize;
        for (var l = 0; l < LayerCount; l++)
        {
            for (var h = 0; h < KvHeadCount; h++)
            {
                var offset = (long)h * MaxLength * HeadSize * ElementSize;
                Buffer.MemoryCopy(Keys(l, from) + offset, Keys(l, to) + offset, rowBytes, rowBytes);
                Buffer.MemoryCopy(Values(l, from) + offset, Values(l, to) + offset, rowBytes, rowBytes);
            }
        }
    }

    public void Dispose()
    {
        for (var l = 0; l < LayerCount; l++)
        {
            NativeMemory.AlignedFree(_keys[l]);
            NativeMemory.AlignedFree(_values[l]);
            _keys[l] = null;
            _values[l] = null;
        }
    }
}
