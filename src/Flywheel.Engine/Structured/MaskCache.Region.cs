namespace Flywheel.Structured;

/// <summary>
/// Misses through the shared region walk (<see cref="RegionWalkCache"/>): the region's inside is the
/// same in every grammar and is kept once per vocabulary; a state's entry adds only what its own
/// grammar does past the region's exits. Most misses find the region walked already and have a
/// handful of frontier tokens, so the entry holds the region's inside by reference and lists its
/// frontier tokens, rather than copying 16 KB of mask and counting its bits again.
/// </summary>
internal sealed partial class MaskCache
{
    /// <summary>
    /// The entry of <paramref name="state"/>, whose region (just built by the walker) has <paramref name="key"/>:
    /// the region's part from <paramref name="regions"/> (walked and kept there on a miss), the exits walked here.
    /// </summary>
    private Entry WalkThroughRegion(RegionWalkCache regions, RegionKey key, int state, PdaRunner runner, TrieWalker walker, int scratchStart)
    {
        // Inside the region the walk is the same in every grammar; only the exits are ours.
        var kept = regions.TryGet(key, out var walk);
        if (!kept)
        {
            walk = regions.Add(key, WalkRegion(state, runner, walker, scratchStart), out kept);
        }

        return WalkFrontier(walk, kept, runner, walker, scratchStart);
    }

    /// <summary>Walks the region of <paramref name="state"/> (whose <see cref="StacklessRegion"/> the walker holds) up to its exits.</summary>
    private RegionWalkCache.Walk WalkRegion(int state, PdaRunner runner, TrieWalker walker, int scratchStart)
    {
        var inside = walker.TakeScratchMask(Vocabulary.MaskLength);
        walker.WalkInside(runner, state, scratchStart, inside);
        var entry = Entry.CreateCopy(inside, Vocabulary.Count);
        Array.Clear(inside);
        walker.ReturnScratchMask();

        var frontier = walker.Frontier;
        var nodes = new int[frontier.Count];
        var states = new int[frontier.Count];
        for (var k = 0; k < frontier.Count; k++)
        {
            nodes[k] = frontier[k].Node;
            states[k] = walker.Region.LocalOf(frontier[k].State);
        }

        return new RegionWalkCache.Walk(entry, nodes, states);
    }

    /// <summary>
    /// The entry of the region root from its region's <paramref name="walk"/> and a walk of each
    /// frontier subtree with this grammar; <paramref name="kept"/>: the region cache holds the walk
    /// (so the entry need not count the inside's bytes).
    /// </summary>
    private Entry WalkFrontier(RegionWalkCache.Walk walk, bool kept, PdaRunner runner, TrieWalker walker, int scratchStart)
    {
        var frontierNodes = walk.FrontierNodes;
        var uncertain = new List<int>();
        if (frontierNodes.Length == 0)
        {
            return Entry.Create(walk.Inside, kept, [], uncertain);
        }

        var accepted = walker.TakeScratchMask(Vocabulary.MaskLength);
        for (var k = 0; k < frontierNodes.Length; k++)
        {
            var from = walker.Region.States[walk.FrontierStates[k]];
            walker.WalkSubtree(runner, from, frontierNodes[k], scratchStart, accepted, uncertain);
        }

        // A subtree walk sets bits of the tokens below its node only (frontier subtrees are
        // disjoint): where those are fewer than the mask's bits, gather them from there, clearing
        // the scratch as we go; else (a walk that pruned most of a large subtree, say) from the mask.
        var trie = walker.Trie;
        var tokenStart = trie.TokenStart;
        var skip = trie.Skip;
        var below = 0;
        foreach (var node in frontierNodes)
        {
            below += tokenStart[skip[node]] - tokenStart[node];
        }

        var ids = below <= 2 * accepted.Length ? GatherBelow(frontierNodes, trie, accepted) : Entry.TakeIds(accepted, Vocabulary.Count);
        if (ids is not null)
        {
            walker.ReturnScratchMask();
            return Entry.Create(walk.Inside, kept, ids, uncertain);
        }

        // More frontier tokens than a mask has words: one mask of both parts, as a plain walk
        // makes, so a hit ORs one array rather than two.
        var bits = new uint[Vocabulary.MaskLength];
        walk.Inside.OrInto(bits, Vocabulary.Count);
        System.Numerics.Tensors.TensorPrimitives.BitwiseOr(bits, accepted, bits);
        Array.Clear(accepted);
        walker.ReturnScratchMask();
        return Entry.Create(bits, Vocabulary.Count, uncertain);
    }

    /// <summary>
    /// The tokens below <paramref name="nodes"/> set in <paramref name="accepted"/>, clearing their
    /// bits; null (bits left set) when there are more than the mask has words.
    /// </summary>
    private static int[]? GatherBelow(int[] nodes, TokenTrie trie, uint[] accepted)
    {
        var tokens = trie.Tokens;
        var tokenStart = trie.TokenStart;
        var skip = trie.Skip;
        var ids = new List<int>();
        foreach (var node in nodes)
        {
            for (var k = tokenStart[node]; k < tokenStart[skip[node]]; k++)
            {
                var id = tokens[k];
                if ((accepted[id >> 5] & (1u << (id & 31))) != 0)
                {
                    ids.Add(id);
                }
            }
        }

        if (ids.Count > accepted.Length)
        {
            return null;
        }

        foreach (var id in ids)
        {
            accepted[id >> 5] &= ~(1u << (id & 31));
        }

        return [.. ids];
    }
}
