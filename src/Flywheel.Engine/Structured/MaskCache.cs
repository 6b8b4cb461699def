namespace Flywheel.Structured;

/// <summary>
/// Per (grammar, vocabulary): for each grammar state, the tokens accepted from that state whatever
/// the stack below, and the few whose fate depends on the stack (they finish the current rule and
/// go on into the caller's). Filled lazily on first visit of a state, then shared by all requests
/// using the same grammar and vocabulary. Thread-safe: entries are immutable and published with a
/// compare-exchange; a race computes an entry twice, never wrongly. Bounded: entries are kept only
/// within the vocabulary's <see cref="MaskCacheBudget"/> (count and bytes, shared by all grammars),
/// which may also take them back; a state whose entry is not kept is simply walked again. States
/// that read every token alike (<see cref="TokenEquivalence"/>: the positions of a long counted
/// string, say) share one entry, worked out on the first lookup.
/// </summary>
internal sealed partial class MaskCache
{
    private readonly Entry?[] _entries;

    private readonly RegionWalkCache? _regions;

    private readonly MaskCacheBudget _budget;

    private readonly MaskCacheBudget.Account _account;

    private readonly bool _shareClasses;

    // [StateCount]: each state's entry slot, -1 until worked out: the state itself (slots below
    // StateCount), or StateCount + a class of equivalent states. Written under _slotGate only.
    private readonly int[] _slots;
    private readonly object _slotGate = new();
    private int[]? _localOf, _stamp;
    private int _mark, _classCount;

    /// <summary>
    /// A state reaching more plain states than this keeps its own slot: the classes are worked out
    /// for all of them at once, and past this size that would cost more than the walks it saves.
    /// </summary>
    public const int MaxClassStates = 1 << 14;

    /// <summary>
    /// Creates an empty cache; with <paramref name="shareRegions"/> the walks inside plain regions
    /// are shared through the vocabulary's <see cref="RegionWalkCache"/> (off only to test that sharing changes nothing).
    /// Entries count against <paramref name="budget"/>, by default the vocabulary's. With
    /// <paramref name="shareClasses"/> equivalent states share one entry (off only to test that sharing changes nothing).
    /// </summary>
    public MaskCache(CompiledGrammar grammar, TokenVocabulary vocabulary, bool shareRegions = true, MaskCacheBudget? budget = null, bool shareClasses = true)
    {
        _shareClasses = shareClasses;
        Grammar = grammar;
        Vocabulary = vocabulary;
        _entries = new Entry?[3 * grammar.StateCount];
        _slots = new int[grammar.StateCount];
        Array.Fill(_slots, -1);
        _shortSlots = new int[grammar.StateCount];
        Array.Fill(_shortSlots, -1);
        _regions = shareRegions ? vocabulary.Regions : null;
        _budget = budget ?? vocabulary.MaskBudget;
        _account = new MaskCacheBudget.Account(this);
    }

    public CompiledGrammar Grammar { get; }

    public TokenVocabulary Vocabulary { get; }

    /// <summary>Entries kept (a warm-up measure; with sharing, one per class of states).</summary>
    public int FilledCount => _entries.Count(e => e is not null);

    /// <summary>Whether <paramref name="state"/>'s entry is kept now (a lookup would hit).</summary>
    public bool Has(int state) => Volatile.Read(ref _entries[SlotOf(state)]) is not null;

    /// <summary>
    /// The entry slot of <paramref name="state"/>: its <see cref="TokenEquivalence"/> class, worked
    /// out on first use for every state it reaches through plain states (a string's positions, say);
    /// the state itself without sharing or where that region is too large.
    /// </summary>
    public int SlotOf(int state)
    {
        if (!_shareClasses)
        {
            return state;
        }

        var slot = Volatile.Read(ref _slots[state]);
        return slot >= 0 ? slot : WorkOutSlots(state);
    }

    private int WorkOutSlots(int state)
    {
        lock (_slotGate)
        {
            if (_slots[state] >= 0)
            {
                return _slots[state];
            }

            var n = Grammar.StateCount;
            _localOf ??= new int[n];
            _stamp ??= new int[n];
            var (closure, depth, complete) = TokenEquivalence.PlainClosure(Grammar, state, MaxClassStates, _localOf, _stamp, ++_mark);
            var maxTokenBytes = Vocabulary.Trie.MaxDepth;
            if (!complete || depth <= maxTokenBytes)
            {
                // Too large to refine, or no plain state in it is more than a token's bytes away, so it
                // holds no counted run long enough to have positions that read alike (position k of a
                // run is k bytes from its start at least) and refining would cost more than it saves.
                // These states keep their own slots, and no later miss among them searches again.
                foreach (var s in closure)
                {
                    if (_slots[s] < 0)
                    {
                        Volatile.Write(ref _slots[s], s);
                    }
                }

                return _slots[state];
            }

            // States labelled by an earlier region keep their slot: a slot only ever holds states
            // of one class of one refinement, so sharing stays exact (only some is given up).
            // A region too large for a shared region walk also gets short-token classes, from the same refinement.
            var splitShort = closure.Count > StacklessRegion.MaxStates && Vocabulary.HasLongTokens;
            var (classOf, count, shortClassOf, shortCount) = TokenEquivalence.Classes(Grammar, maxTokenBytes, closure, _localOf, splitShort ? ShortTokenBytes : 0);
            if (shortClassOf is not null)
            {
                AssignShortSlots(closure, shortClassOf, shortCount);
            }

            var ids = new int[count];
            Array.Fill(ids, -1);
            for (var k = 0; k < closure.Count; k++)
            {
                var s = closure[k];
                if (_slots[s] < 0)
                {
                    if (ids[classOf[k]] < 0)
                    {
                        ids[classOf[k]] = n + _classCount++;
                    }

                    Volatile.Write(ref _slots[s], ids[classOf[k]]);
                }
            }

            return _slots[state];
        }
    }

    /// <summary>The entry of <paramref name="state"/>, computing it with the caller's runner and walker on a miss.</summary>
    public Entry Get(int state, PdaRunner runner, TrieWalker walker, int scratchStart)
    {
        var slot = SlotOf(state);
        var entry = Volatile.Read(ref _entries[slot]);
        if (entry is not null)
        {
            return entry;
        }

        entry = WalkRegionOrSplit(state, runner, walker, scratchStart);
        if (!_budget.TryReserve(_account, entry.ByteCount))
        {
            return entry; // used for this step, not kept
        }

        var winner = Interlocked.CompareExchange(ref _entries[slot], entry, null);
        if (winner is not null)
        {
            _budget.Release(_account, 1, entry.ByteCount);
            return winner;
        }

        return entry;
    }

    /// <summary>
    /// A miss: through the shared region walk where the state's region is small enough, else from
    /// its short-token class's entry where it has one, else a walk of the whole trie.
    /// </summary>
    private Entry WalkRegionOrSplit(int state, PdaRunner runner, TrieWalker walker, int scratchStart)
    {
        var shortSlot = _shareClasses ? Volatile.Read(ref _shortSlots[state]) : -1;
        if (_regions is not null && walker.Region.TryBuild(Grammar, state, out var key))
        {
            return WalkThroughRegion(_regions, key, state, runner, walker, scratchStart);
        }

        if (shortSlot >= 0 || (_regions is not null && Vocabulary.HasLongTokens))
        {
            // A region too large to share whole (a long counted string): its short tokens are
            // walked through the far smaller region a short token can reach.
            return WalkSplit(state, shortSlot, runner, scratchStart);
        }

        var accepted = new uint[Vocabulary.MaskLength];
        var uncertain = new List<int>();
        walker.Walk(runner, state, scratchStart, accepted, uncertain);
        return Entry.Create(accepted, Vocabulary.Count, uncertain);
    }

    /// <summary>Forgets every entry (the budget calls this to make room); returns how many entries and bytes were dropped.</summary>
    internal (int Entries, long Bytes) DropEntries()
    {
        var (entries, bytes) = (0, 0L);
        for (var i = 0; i < _entries.Length; i++)
        {
            if (Interlocked.Exchange(ref _entries[i], null) is { } dropped)
            {
                entries++;
                bytes += dropped.ByteCount;
            }
        }

        return (entries, bytes);
    }
}
