namespace Flywheel.Serving.ResponseFormats;

/// <summary>
/// Compiled formats by canonical schema text, bounded by entry count and by bytes (each entry's size as
/// its owner measured it); adding past either bound evicts the least recently used entries. An entry
/// bigger than the whole byte bound is not kept. Thread-safe (one lock; every operation is O(1)).
/// </summary>
internal sealed class CompiledFormatCache(int maxCount, long maxBytes)
{
    private readonly object _lock = new();
    private readonly Dictionary<string, LinkedListNode<Entry>> _byKey = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new(); // most recently used first

    /// <summary>Entries held.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byKey.Count;
            }
        }
    }

    /// <summary>Bytes held (the sum of the entries' sizes).</summary>
    public long Bytes { get; private set; }

    /// <summary>The entry for <paramref name="key"/>, now the most recently used; false when absent.</summary>
    public bool TryGet(string key, out CompiledFormat format)
    {
        lock (_lock)
        {
            if (_byKey.TryGetValue(key, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                format = node.Value.Format;
                return true;
            }
        }

        format = null!;
        return false;
    }

    /// <summary>Adds or replaces the entry, then evicts least recently used ones until both bounds hold.</summary>
    public void Add(string key, CompiledFormat format, long bytes)
    {
        lock (_lock)
        {
            if (_byKey.Remove(key, out var old))
            {
                _recency.Remove(old);
                Bytes -= old.Value.Bytes;
            }

            if (bytes > maxBytes)
            {
                return;
            }

            _byKey[key] = _recency.AddFirst(new Entry(key, format, bytes));
            Bytes += bytes;
            while (_byKey.Count > maxCount || Bytes > maxBytes)
            {
                var last = _recency.Last!;
                _recency.RemoveLast();
                _byKey.Remove(last.Value.Key);
                Bytes -= last.Value.Bytes;
            }
        }
    }

    /// <summary>Whether <paramref name="key"/> is held, without touching its recency (for tests).</summary>
    public bool Contains(string key)
    {
        lock (_lock)
        {
            return _byKey.ContainsKey(key);
        }
    }

    private sealed record Entry(string Key, CompiledFormat Format, long Bytes);
}
