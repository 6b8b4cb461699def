using System.Collections.Concurrent;

namespace Flywheel.Structured;

/// <summary>
/// Per vocabulary, shared by every grammar: the part of a mask-cache walk that stays inside a
/// <see cref="StacklessRegion"/>. The tokens whose bytes all stay in the region are accepted (they
/// never leave a plain state, so no stack is involved); the walk leaves the region at frontier
/// trie nodes, recorded with the region state it left from, which the owner then walks on with
/// its own grammar. Thread-safe; entries are immutable. Bounded by count and bytes: past
/// <see cref="MaxEntries"/> regions or <see cref="MaxBytes"/> new ones are walked as before but not
/// kept. The first ones kept are the common regions <see cref="RegionWalkWarmUp"/> walks, which is why a
/// full cache keeps what it has rather than evicting.
/// </summary>
internal sealed class RegionWalkCache
{
    /// <summary>Default bound on kept regions.</summary>
    public const int DefaultMaxEntries = 2048;

    /// <summary>Default bound on kept bytes (keys, masks and frontiers).</summary>
    public const long DefaultMaxBytes = 64L << 20;

    private readonly ConcurrentDictionary<RegionKey, Walk> _walks = new();
    private long _byteCount;

    public RegionWalkCache(int maxEntries = DefaultMaxEntries, long maxBytes = DefaultMaxBytes)
    {
        MaxEntries = maxEntries;
        MaxBytes = maxBytes;
    }

    public int MaxEntries { get; }

    public long MaxBytes { get; }

    public int Count => _walks.Count;

    /// <summary>Estimated bytes of the kept walks.</summary>
    public long ByteCount => Interlocked.Read(ref _byteCount);

    public bool TryGet(RegionKey key, out Walk walk) => _walks.TryGetValue(key, out walk!);

    /// <summary>Keeps <paramref name="walk"/> when the bounds allow; returns the walk kept for the key (another thread's, on a race) or this one.</summary>
    public Walk Add(RegionKey key, Walk walk) => Add(key, walk, out _);

    /// <summary>
    /// Like <see cref="Add(RegionKey, Walk)"/>; <paramref name="kept"/> says whether the walk returned
    /// is held by the cache (for good: it never evicts), so an entry built on it need not count its bytes.
    /// </summary>
    public Walk Add(RegionKey key, Walk walk, out bool kept)
    {
        kept = false;
        var bytes = key.ByteCount + walk.ByteCount + 64; // + the dictionary node
        if (_walks.Count >= MaxEntries)
        {
            return walk;
        }

        // Reserve first, so racing adders cannot overshoot the byte bound together; give back on a loss.
        if (Interlocked.Add(ref _byteCount, bytes) > MaxBytes)
        {
            Interlocked.Add(ref _byteCount, -bytes);
            return walk;
        }

        var winner = _walks.GetOrAdd(key, walk);
        if (!ReferenceEquals(winner, walk))
        {
            Interlocked.Add(ref _byteCount, -bytes);
        }

        kept = true;
        return winner;
    }

    /// <summary>One region's walk: tokens accepted inside it, and the (trie node, local state) pairs where it exits.</summary>
    internal sealed class Walk
    {
        public Walk(MaskCache.Entry inside, int[] frontierNodes, int[] frontierStates)
        {
            Inside = inside;
            FrontierNodes = frontierNodes;
            FrontierStates = frontierStates;
        }

        public MaskCache.Entry Inside { get; }

        public int[] FrontierNodes { get; }

        /// <summary>Local index (in <see cref="StacklessRegion.States"/>) of the state before each frontier node's byte.</summary>
        public int[] FrontierStates { get; }

        /// <summary>Estimated memory held: the object, the inside entry and the frontier arrays.</summary>
        public long ByteCount => 40 + Inside.ByteCount + 48 + (4L * (FrontierNodes.Length + FrontierStates.Length));
    }
}
