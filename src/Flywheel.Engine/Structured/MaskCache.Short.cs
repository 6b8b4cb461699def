namespace Flywheel.Structured;

/// <summary>
/// Short-token sharing: states that read every token of at most <see cref="ShortTokenBytes"/>
/// bytes alike (<see cref="TokenEquivalence"/> refined to that horizon) share one entry for those
/// tokens, and each state walks only the trie of the longer tokens (1,312 of Llama-3's 128k).
/// The positions of a counted string between 16 and 128 characters from its cap read every
/// token of the full horizon differently, yet every short token alike: without the split each of
/// them walks the whole trie.
/// </summary>
internal sealed partial class MaskCache
{
    /// <summary>The longest token, in bytes, whose entry part is shared by short-token classes.</summary>
    public const int ShortTokenBytes = 16;

    // Walkers over the split tries, one per thread (the cache is shared, a walker's buffers are not).
    [ThreadStatic]
    private static TrieWalker? t_shortWalker;

    [ThreadStatic]
    private static TrieWalker? t_longWalker;

    // [StateCount]: each state's short-token class slot (2 * StateCount + class), -1 for none.
    // Written under _slotGate only, in the same call that sets the state's slot.
    private readonly int[] _shortSlots;
    private int _shortClassCount;

    /// <summary>
    /// Labels the states of <paramref name="closure"/> (a plain region) that have no short slot yet
    /// by their class at <see cref="ShortTokenBytes"/> (<paramref name="classOf"/>, in closure order);
    /// like the full classes, a slot holds states of one class of one refinement only.
    /// </summary>
    private void AssignShortSlots(List<int> closure, int[] classOf, int count)
    {
        var ids = new int[count];
        Array.Fill(ids, -1);
        var baseSlot = 2 * Grammar.StateCount;
        for (var k = 0; k < closure.Count; k++)
        {
            var s = closure[k];
            if (_shortSlots[s] < 0)
            {
                if (ids[classOf[k]] < 0)
                {
                    ids[classOf[k]] = baseSlot + _shortClassCount++;
                }

                Volatile.Write(ref _shortSlots[s], ids[classOf[k]]);
            }
        }
    }

    /// <summary>
    /// The entry of <paramref name="state"/> from its short-token part (its class's entry where it has
    /// a <paramref name="shortSlot"/>, else -1, and that entry is kept; walked otherwise) and a walk of the long tokens.
    /// </summary>
    private Entry WalkSplit(int state, int shortSlot, PdaRunner runner, int scratchStart)
    {
        var shortEntry = shortSlot >= 0 ? Volatile.Read(ref _entries[shortSlot]) : null;
        var shortKept = shortEntry is not null;
        if (shortEntry is null)
        {
            shortEntry = WalkShort(state, runner, scratchStart);
            shortKept = shortSlot >= 0 && _budget.TryReserve(_account, shortEntry.ByteCount);
            if (shortKept && Interlocked.CompareExchange(ref _entries[shortSlot], shortEntry, null) is { } winner)
            {
                _budget.Release(_account, 1, shortEntry.ByteCount);
                shortEntry = winner;
            }
        }

        var longWalker = WalkerFor(ref t_longWalker, Vocabulary.LongTrie);
        var longBits = new uint[Vocabulary.MaskLength];
        var longUncertain = new List<int>();
        longWalker?.Walk(runner, state, scratchStart, longBits, longUncertain);
        return Entry.Create(shortEntry, shortKept, longBits, Vocabulary.Count, longUncertain);
    }

    /// <summary>
    /// The short tokens' part of <paramref name="state"/>'s entry. The region a short token can reach
    /// is small even inside a long counted string (<see cref="StacklessRegion"/> leaves out what lies
    /// further), and equal for its positions far from the cap in every grammar, so that walk is shared
    /// through the vocabulary's <see cref="TokenVocabulary.ShortRegions"/>.
    /// </summary>
    private Entry WalkShort(int state, PdaRunner runner, int scratchStart)
    {
        var walker = WalkerFor(ref t_shortWalker, Vocabulary.ShortTrie);
        if (walker is not null && _regions is not null && walker.Region.TryBuild(Grammar, state, out var key))
        {
            return WalkThroughRegion(Vocabulary.ShortRegions, key, state, runner, walker, scratchStart);
        }

        var accepted = new uint[Vocabulary.MaskLength];
        var uncertain = new List<int>();
        walker?.Walk(runner, state, scratchStart, accepted, uncertain);
        return Entry.Create(accepted, Vocabulary.Count, uncertain);
    }

    /// <summary>This thread's walker over <paramref name="trie"/> (null when it holds no token).</summary>
    private static TrieWalker? WalkerFor(ref TrieWalker? cached, TokenTrie trie)
    {
        if (trie.NodeCount <= 1)
        {
            return null;
        }

        if (cached is null || !ReferenceEquals(cached.Trie, trie))
        {
            cached = new TrieWalker(trie);
        }

        return cached;
    }
}
