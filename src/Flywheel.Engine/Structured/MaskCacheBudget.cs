namespace Flywheel.Structured;

/// <summary>
/// The count and byte bounds shared by every <see cref="MaskCache"/> of one vocabulary. Each grammar
/// fills its cache lazily, one entry per visited state (up to a vocabulary-sized bitmask each), and
/// clients can send a new schema with every request, so without a shared bound the caches of all the
/// grammars alive at once would grow with traffic. A cache reserves room before keeping an entry; when
/// the budget is full, the caches that grew least recently give up their entries first (their grammars
/// then recompute masks on their next visits). A reservation that cannot be met leaves the entry
/// computed but not kept. Thread-safe: reservations and evictions take one lock, on cache misses only.
/// </summary>
internal sealed class MaskCacheBudget
{
    /// <summary>Default bound on kept entries per vocabulary.</summary>
    public const int DefaultMaxEntries = 65_536;

    /// <summary>Default bound on kept bytes per vocabulary (128 MiB: 8,192 full bitmasks of a 128k vocabulary).</summary>
    public const long DefaultMaxBytes = 128L << 20;

    private readonly object _gate = new();
    private readonly LinkedList<Account> _accounts = []; // least recently grown first
    private int _entryCount;
    private long _byteCount;

    public MaskCacheBudget(int maxEntries = DefaultMaxEntries, long maxBytes = DefaultMaxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        MaxEntries = maxEntries;
        MaxBytes = maxBytes;
    }

    public int MaxEntries { get; }

    public long MaxBytes { get; }

    /// <summary>Entries kept (or reserved) by all caches now.</summary>
    public int EntryCount => Volatile.Read(ref _entryCount);

    /// <summary>Bytes kept (or reserved) by all caches now.</summary>
    public long ByteCount => Interlocked.Read(ref _byteCount);

    /// <summary>A cache's share of the budget; the budget holds the cache only weakly, so it never keeps a grammar alive.</summary>
    internal sealed class Account(MaskCache owner)
    {
        public WeakReference<MaskCache> Owner { get; } = new(owner);

        public LinkedListNode<Account>? Node { get; set; }

        public int EntryCount { get; set; }

        public long ByteCount { get; set; }
    }

    /// <summary>
    /// Reserves one entry of <paramref name="bytes"/> for <paramref name="account"/>, evicting other
    /// caches' entries (least recently grown first) to make room. False when it cannot fit.
    /// </summary>
    public bool TryReserve(Account account, long bytes)
    {
        if (bytes > MaxBytes)
        {
            return false;
        }

        lock (_gate)
        {
            // One pass over the others at most: a cache may keep reservations whose entries are still
            // being stored, and waiting for them here (under the lock) could wait for ever.
            for (var node = _accounts.First; node is not null && !Fits(bytes);)
            {
                var next = node.Next;
                if (!ReferenceEquals(node.Value, account))
                {
                    Evict(node);
                }

                node = next;
            }

            if (!Fits(bytes))
            {
                return false;
            }

            account.EntryCount++;
            account.ByteCount += bytes;
            _entryCount++;
            _byteCount += bytes;
            if (account.Node is { } own)
            {
                _accounts.Remove(own);
                _accounts.AddLast(own);
            }
            else
            {
                account.Node = _accounts.AddLast(account);
            }

            return true;
        }
    }

    /// <summary>Gives back what <paramref name="account"/> no longer holds (e.g. an entry it reserved and then lost a race for).</summary>
    public void Release(Account account, int entries, long bytes)
    {
        lock (_gate)
        {
            Take(account, entries, bytes);
        }
    }

    private bool Fits(long bytes) => _entryCount + 1 <= MaxEntries && _byteCount + bytes <= MaxBytes;

    private void Evict(LinkedListNode<Account> node)
    {
        var account = node.Value;
        if (account.Owner.TryGetTarget(out var cache))
        {
            // Only what was dropped: entries reserved before this pass and stored after it stay counted.
            var (entries, bytes) = cache.DropEntries();
            Take(account, entries, bytes);
        }
        else
        {
            // The cache was collected with its grammar, and its entries with it.
            Take(account, account.EntryCount, account.ByteCount);
        }

        if (account.EntryCount == 0)
        {
            _accounts.Remove(node);
            account.Node = null;
        }
    }

    private void Take(Account account, int entries, long bytes)
    {
        account.EntryCount -= entries;
        account.ByteCount -= bytes;
        _entryCount -= entries;
        _byteCount -= bytes;
    }
}
