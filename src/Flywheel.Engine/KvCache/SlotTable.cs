namespace Flywheel.Execution;

/// <summary>
/// Which request holds which KV slot, and the moves that keep the decode region dense. Decoding requests
/// occupy slots [0, D) so one Run covers them; requests still in their prompt take free slots from the
/// top. <see cref="Compact"/> runs once per step, after sampling: finished requests free their slots
/// (the request in the last decode slot moves into a hole), then prompts that completed move down to
/// slot D (swapping through a spare slot when D is taken). A move copies only the positions in use.
/// Engine thread only.
/// </summary>
internal sealed class SlotTable
{
    private readonly KvCache _cache;
    private readonly Sequence?[] _slots;
    private readonly int _capacity;
    private readonly List<Sequence> _releasing = [];

    /// <param name="cache">Holds <paramref name="capacity"/> slots, plus the spare one when capacity is over 1.</param>
    public SlotTable(KvCache cache, int capacity)
    {
        _cache = cache;
        _capacity = capacity;
        _slots = new Sequence?[cache.SlotCount];
    }

    /// <summary>KV slots a table of <paramref name="capacity"/> requests needs: a spare for swaps, unless one request never swaps.</summary>
    public static int SlotCountFor(int capacity) => capacity > 1 ? capacity + 1 : 1;

    /// <summary>Decoding requests: they hold slots [0, DecodeCount).</summary>
    public int DecodeCount { get; private set; }

    public int FreeCount
    {
        get
        {
            var free = 0;
            for (var i = 0; i < _capacity; i++)
            {
                free += _slots[i] is null ? 1 : 0;
            }

            return free;
        }
    }

    /// <summary>Gives an admitted request the highest free slot (the decode region grows from slot 0).</summary>
    public void Assign(Sequence s)
    {
        for (var i = _capacity - 1; i >= DecodeCount; i--)
        {
            if (_slots[i] is null)
            {
                s.Slot = i;
                _slots[i] = s;
                return;
            }
        }

        throw new InvalidOperationException("no free KV slot for an admitted request");
    }

    /// <summary>
    /// Frees the slots of <paramref name="finished"/>, then moves the requests of
    /// <paramref name="running"/> whose prompt completed into the decode region.
    /// </summary>
    public void Compact(List<Sequence> finished, IReadOnlyList<Sequence> running)
    {
        // Highest slot first: a finished request in the last decode slot then just leaves, instead of first
        // being copied into the hole of another finished one (as when each finish compacted at once).
        _releasing.Clear();
        _releasing.AddRange(finished);
        _releasing.Sort(static (a, b) => b.Slot.CompareTo(a.Slot));
        foreach (var s in _releasing)
        {
            Release(s);
        }

        for (var i = 0; i < running.Count; i++) // indexed: foreach over the interface would allocate each step
        {
            if (!running[i].InDecodeRegion && !running[i].IsPrefilling)
            {
                MoveToDecodeRegion(running[i]);
            }
        }
    }

    private void Release(Sequence s)
    {
        if (s.Slot < 0)
        {
            return; // never admitted
        }

        _slots[s.Slot] = null;
        if (s.InDecodeRegion)
        {
            // Keep [0, D) dense: the request in the last decode slot moves into the hole.
            var last = DecodeCount - 1;
            if (s.Slot != last && _slots[last] is { } moved)
            {
                _cache.CopySlot(last, s.Slot, moved.ComputedTokenCount);
                _slots[last] = null;
                moved.Slot = s.Slot;
                _slots[s.Slot] = moved;
            }

            DecodeCount--;
        }

        s.Slot = -1;
    }

    private void MoveToDecodeRegion(Sequence s)
    {
        var target = DecodeCount;
        if (s.Slot != target)
        {
            if (_slots[target] is { } other)
            {
                // Swap through the spare slot: other -> spare, s -> target, spare -> s's old slot.
                var spare = _capacity;
                _cache.CopySlot(target, spare, other.ComputedTokenCount);
                _cache.CopySlot(s.Slot, target, s.ComputedTokenCount);
                _cache.CopySlot(spare, s.Slot, other.ComputedTokenCount);
                (_slots[s.Slot], other.Slot) = (other, s.Slot);
            }
            else
            {
                _cache.CopySlot(s.Slot, target, s.ComputedTokenCount);
                _slots[s.Slot] = null;
            }

            s.Slot = target;
            _slots[target] = s;
        }

        s.InDecodeRegion = true;
        DecodeCount++;
    }
}
