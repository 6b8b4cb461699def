using System.Runtime.InteropServices;

namespace Flywheel.Execution;

/// <summary>
/// The KV cache: per layer one key and one value buffer of float32 [slots, kvHeads, maxLength, headSize],
/// in native memory that never moves. GroupQueryAttention reads past K/V from, and writes new K/V into,
/// the same buffer (past and present share it), so a sequence's cache stays where it is for its lifetime.
/// Batch is the outermost dimension, so any contiguous range of slots is itself a valid
/// [rows, kvHeads, maxLength, headSize] tensor: that is how a decode batch runs over a slot range.
/// </summary>
public sealed unsafe class KvCache : IDisposable
{
    private readonly float*[] _keys;
    private readonly float*[] _values;

    public KvCache(int layerCount, int slotCount, int kvHeadCount, int maxLength, int headSize)
    {
        (LayerCount, SlotCount, KvHeadCount, MaxLength, HeadSize) = (layerCount, slotCount, kvHeadCount, maxLength, headSize);
        SlotElementCount = (long)kvHeadCount * maxLength * headSize;
        _keys = new float*[layerCount];
        _values = new float*[layerCount];
        var bytes = (nuint)(SlotElementCount * slotCount * sizeof(float));
        for (var l = 0; l < layerCount; l++)
        {
            // Zeroed so unused positions hold finite numbers (masked anyway, but never NaN garbage).
            _keys[l] = (float*)NativeMemory.AlignedAlloc(bytes, 64);
            _values[l] = (float*)NativeMemory.AlignedAlloc(bytes, 64);
            NativeMemory.Clear(_keys[l], bytes);
            NativeMemory.Clear(_values[l], bytes);
        }
    }

    public int LayerCount { get; }

    public int SlotCount { get; }

    public int KvHeadCount { get; }

    public int MaxLength { get; }

    public int HeadSize { get; }

    /// <summary>Floats per slot per layer per K or V: kvHeads * maxLength * headSize.</summary>
    public long SlotElementCount { get; }

    /// <summary>Bytes held in total.</summary>
    public long ByteCount => SlotElementCount * SlotCount * LayerCount * 2 * sizeof(float);

    /// <summary>Start of <paramref name="slot"/>'s keys in <paramref name="layer"/>.</summary>
    public float* Keys(int layer, int slot) => _keys[layer] + (slot * SlotElementCount);

    public float* Values(int layer, int slot) => _values[layer] + (slot * SlotElementCount);

    /// <summary>Copies the first <paramref name="length"/> positions of a slot to another (all layers, K and V).</summary>
    public void CopySlot(int from, int to, int length)
    {
        var rowFloats = (long)HeadSize * length;
        for (var l = 0; l < LayerCount; l++)
        {
            for (var h = 0; h < KvHeadCount; h++)
            {
                var offset = (long)h * MaxLength * HeadSize;
                Buffer.MemoryCopy(Keys(l, from) + offset, Keys(l, to) + offset, rowFloats * sizeof(float), rowFloats * sizeof(float));
                Buffer.MemoryCopy(Values(l, from) + offset, Values(l, to) + offset, rowFloats * sizeof(float), rowFloats * sizeof(float));
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
