using System.Collections.Concurrent;

namespace Flywheel.Tokenization;

/// <summary>
/// Byte-pair encoding over a vocabulary and ranked merges. A word (one pre-token, already in the
/// vocabulary's alphabet) starts as its characters and the adjacent pair with the lowest merge rank is
/// merged until none is left. Results are cached per word, bounded by count and bytes: prompts are
/// user input, so a stream of new (or very long) words must not grow memory without end.
/// </summary>
internal sealed class BpeModel
{
    /// <summary>Default bounds of the per-word cache.</summary>
    public const int DefaultCacheEntries = 100_000;

    /// <summary>Default byte bound of the per-word cache (estimated: strings, id arrays and table overhead).</summary>
    public const long DefaultCacheBytes = 32L << 20;

    // Words longer than this are encoded every time: they are rare, and one of them could take a large
    // share of the byte budget.
    private const int MaxCachedWordLength = 256;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly int _maxCacheEntries;
    private readonly long _maxCacheBytes;
    private long _cacheBytes;
    private int _cacheCount; // kept beside the dictionary: ConcurrentDictionary.Count takes every lock

    public BpeModel(
        Dictionary<string, int> vocab,
        Dictionary<(int, int), (int, int)> merges,
        bool ignoreMerges,
        bool byteFallback,
        int? unkId,
        int maxCacheEntries = DefaultCacheEntries,
        long maxCacheBytes = DefaultCacheBytes)
    {
        _maxCacheEntries = maxCacheEntries;
        _maxCacheBytes = maxCacheBytes;
        _vocab = vocab;
        _merges = merges;
        IgnoreMerges = ignoreMerges;
        ByteFallback = byteFallback;
        UnkId = unkId;
        if (byteFallback)
        {
            ByteTokenIds = new int[256];
            for (var b = 0; b < 256; b++)
            {
                ByteTokenIds[b] = vocab.TryGetValue($"<0x{b:X2}>", out var id) ? id : -1;
            }
        }
    }

    /// <summary>Look the whole word up first (Llama-3's ignore_merges).</summary>
    public bool IgnoreMerges { get; }

    /// <summary>Characters missing from the vocabulary become their UTF-8 bytes' &lt;0xNN&gt; tokens.</summary>
    public bool ByteFallback { get; }

    public int? UnkId { get; }

    public int[]? ByteTokenIds { get; }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    public void Encode(string word, List<int> ids)
    {
        if (_cache.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached);
            return;
        }

        var result = EncodeUncached(word);
        if (word.Length <= MaxCachedWordLength)
        {
            Remember(word, result);
        }

        ids.AddRange(result);
    }

    /// <summary>Words in the per-word cache.</summary>
    public int CachedWordCount => _cache.Count;

    /// <summary>Estimated bytes held by the per-word cache.</summary>
    public long CachedBytes => Interlocked.Read(ref _cacheBytes);

    private void Remember(string word, int[] result)
    {
        var bytes = EntryBytes(word, result);
        if (bytes > _maxCacheBytes)
        {
            return;
        }

        if (Volatile.Read(ref _cacheCount) >= _maxCacheEntries || Interlocked.Read(ref _cacheBytes) + bytes > _maxCacheBytes)
        {
            // Full: start over rather than freeze, so the words of today's traffic come back in. The
            // count is zeroed before the clear: a word another thread adds in between is then counted
            // but cleared, so the count can only overstate the contents (the bound holds) until the next clear.
            Interlocked.Exchange(ref _cacheBytes, 0);
            Interlocked.Exchange(ref _cacheCount, 0);
            _cache.Clear();
        }

        if (_cache.TryAdd(word, result))
        {
            Interlocked.Add(ref _cacheBytes, bytes);
            Interlocked.Increment(ref _cacheCount);
        }
    }

    // String (header + UTF-16), id array (header + ints) and the dictionary node with its bucket.
    private static long EntryBytes(string word, int[] result) => 22 + (2L * word.Length) + 24 + (4L * result.Length) + 48;

    private int[] EncodeUncached(string word)
    {
        if (IgnoreMerges && _vocab.TryGetValue(word, out var whole))
        {
            return [whole];
        }

        // Initial symbols: one per character (a surrogate pair is one character).
        var symbols = new List<int>(word.Length);
        for (var i = 0; i < word.Length; i++)
        {
            var length = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var piece = word.Substring(i, length);
            i += length - 1;
            if (_vocab.TryGetValue(piece, out var id))
            {
                symbols.Add(id);
            }
            else if (ByteFallback && ByteTokenIds is not null)
            {
                foreach (var b in System.Text.Encoding.UTF8.GetBytes(piece))
                {
                    symbols.Add(ByteTokenIds[b] >= 0 ? ByteTokenIds[b] : UnkId ?? throw Unknown(piece));
                }
            }
            else
            {
                symbols.Add(UnkId ?? throw Unknown(piece));
            }
        }

        return Merge(symbols);
    }

    /// <summary>
    /// Applies merges one at a time, always the lowest-ranked adjacent pair (the leftmost among equals), as
    /// Hugging Face's BPE does with its priority queue. Merging only that one occurrence matters for merge
    /// lists derived from SentencePiece scores (Gemma's): a merge can create a pair ranked before the one just
    /// applied, which then comes first. Symbols form a linked list; stale queue entries are skipped on pop.
    /// </summary>
    private int[] Merge(List<int> symbols)
    {
        var n = symbols.Count;
        if (n < 2)
        {
            return symbols.ToArray();
        }

        var id = symbols.ToArray();
        var prev = new int[n];
        var next = new int[n];
        var alive = new bool[n];
        var queue = new PriorityQueue<int, (int Rank, int Pos)>();
        for (var i = 0; i < n; i++)
        {
            (prev[i], next[i], alive[i]) = (i - 1, i + 1 < n ? i + 1 : -1, true);
            if (i + 1 < n && _merges.TryGetValue((id[i], id[i + 1]), out var m))
            {
                queue.Enqueue(i, (m.Rank, i));
            }
        }

        while (queue.TryDequeue(out var pos, out var key))
        {
            var right = next[pos];
            if (!alive[pos] || right < 0 || !_merges.TryGetValue((id[pos], id[right]), out var current) || current.Rank != key.Rank)
            {
                continue;
            }

            id[pos] = current.Merged;
            alive[right] = false;
            next[pos] = next[right];
            if (next[pos] >= 0)
            {
                prev[next[pos]] = pos;
                if (_merges.TryGetValue((id[pos], id[next[pos]]), out var after))
                {
                    queue.Enqueue(pos, (after.Rank, pos));
                }
            }

            if (prev[pos] >= 0 && _merges.TryGetValue((id[prev[pos]], id[pos]), out var before))
            {
                queue.Enqueue(prev[pos], (before.Rank, prev[pos]));
            }
        }

        var result = new List<int>(n);
        for (var i = 0; i >= 0; i = next[i])
        {
            result.Add(id[i]);
        }

        return result.ToArray();
    }

    private static InvalidOperationException Unknown(string piece) =>
        new($"The vocabulary has no token for '{piece}' and no unk_token or byte fallback.");
}
