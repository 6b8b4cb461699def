using System.Numerics;
using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// Interns sorted sets of NFA states (the names of determinized states, or the seeds of a closure)
/// into one growing array: a set is a slice of it, found again through an open-addressing table of
/// ids. Subset construction of a hostile schema makes millions of set entries; one array per set
/// made the garbage collector copy and scan them again and again (a third of a refused compile's
/// time went to collections). Sets live in chunks instead, doubling from small (a schema has a
/// table per rule) up to large objects that are never moved, and never copied on growth, so no
/// discarded doubled arrays either. Not thread-safe.
/// </summary>
internal sealed class StateSetTable
{
    private const int FirstChunk = 256;          // ints: most rules of most schemas are small
    private const int MaxChunk = 1 << 16;        // ints: a large object, which the collector does not move

    private readonly List<int[]> _chunks = [];
    private readonly List<(int Chunk, int Start, int Length)> _where = [];
    private readonly List<int> _hashes = [];
    private int _free;                          // unused ints at the end of the last chunk
    private long _entries;
    private int[] _slots = new int[64];       // id + 1 of the set hashed there, 0 when empty

    /// <summary>Sets interned so far; their ids are 0..Count-1 in the order they were added.</summary>
    public int Count => _hashes.Count;

    /// <summary>Entries of all sets together.</summary>
    public long Entries => _entries;

    /// <summary>The set with id <paramref name="id"/>.</summary>
    public ReadOnlySpan<int> this[int id]
    {
        get
        {
            var (chunk, start, length) = _where[id];
            return _chunks[chunk].AsSpan(start, length);
        }
    }

    /// <summary>The id of <paramref name="set"/>, adding it when new (<paramref name="added"/> says which).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int GetOrAdd(ReadOnlySpan<int> set, out bool added)
    {
        var hash = Hash(set);
        var mask = _slots.Length - 1;
        var slot = hash & mask;
        for (; _slots[slot] != 0; slot = (slot + 1) & mask)
        {
            var id = _slots[slot] - 1;
            if (_hashes[id] == hash && this[id].SequenceEqual(set))
            {
                added = false;
                return id;
            }
        }

        if (set.Length > _free || _chunks.Count == 0)
        {
            var size = _chunks.Count == 0 ? FirstChunk : Math.Min(_chunks[^1].Length * 2, MaxChunk);
            _chunks.Add(new int[Math.Max(size, set.Length)]);
            _free = _chunks[^1].Length;
        }

        var start = _chunks[^1].Length - _free;
        set.CopyTo(_chunks[^1].AsSpan(start));
        _where.Add((_chunks.Count - 1, start, set.Length));
        _free -= set.Length;
        _entries += set.Length;
        _hashes.Add(hash);
        _slots[slot] = Count;
        if (Count * 2 > _slots.Length)
        {
            Rehash();
        }

        added = true;
        return Count - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Rehash()
    {
        _slots = new int[_slots.Length * 2];
        var mask = _slots.Length - 1;
        for (var id = 0; id < Count; id++)
        {
            var slot = _hashes[id] & mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & mask;
            }

            _slots[slot] = id + 1;
        }
    }

    /// <summary>
    /// A multiply-rotate hash of the members with a final mix (the slot is the hash's low bits). Most
    /// sets hold one to three states: HashCode's byte-wise input and finalization cost more than the
    /// lookup itself there.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Hash(ReadOnlySpan<int> set)
    {
        var h = (uint)set.Length * 0x9E3779B9u;
        foreach (var v in set)
        {
            h = BitOperations.RotateLeft((h ^ (uint)v) * 0x85EBCA6Bu, 13);
        }

        h ^= h >> 16;
        h *= 0xC2B2AE35u;
        h ^= h >> 15;
        return (int)(h & int.MaxValue);
    }
}
