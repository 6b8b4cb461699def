using System.Collections.Concurrent;

namespace Flywheel.Structured;

/// <summary>
/// Per vocabulary, shared by every grammar: the part of a mask-cache walk that stays inside a
/// <see cref="PlainRegion"/>. The tokens whose bytes all stay in the region are accepted (they
/// never leave a plain state, so no stack is involved); the walk leaves the region at frontier
/// trie nodes, recorded with the region state it left from, which the owner then walks on with
/// its own grammar. Thread-safe; entries are immutable. Bounded: past <see cref="MaxEntries"/>
/// regions new ones are walked as before but not kept.
/// </summary>
internal sealed class RegionCache
{
    public const int MaxEntries = 2048;

    private readonly ConcurrentDictionary<RegionKey, Walk> _walks = new();

    public int Count => _walks.Count;

    public bool TryGet(RegionKey key, out Walk walk) => _walks.TryGetValue(key, out walk!);

    public Walk Add(RegionKey key, Walk walk) => _walks.Count >= MaxEntries ? walk : _walks.GetOrAdd(key, walk);

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

        /// <summary>Local index (in <see cref="PlainRegion.States"/>) of the state before each frontier node's byte.</summary>
        public int[] FrontierStates { get; }
    }
}
