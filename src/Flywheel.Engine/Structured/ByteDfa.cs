using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// A deterministic automaton over bytes with a dense 256-entry row per state (-1 = no move).
/// State 0 is the start. Used for the regular parts of a schema (string contents, formats,
/// numbers with bounds) before they are inlined into the grammar; sizes stay small there.
/// </summary>
internal sealed partial class ByteDfa
{
    /// <summary>Upper bound on states of one regular sub-language.</summary>
    public const int MaxStates = 50_000;

    // Rows of 256 targets, RowsPerChunk rows to a chunk (the first chunk may be shorter). One flat
    // array had to be doubled and copied as the automaton grew (megabytes for a counted pattern of a
    // thousand characters, each copy a fresh large object for the collector); chunks stay put.
    private const int ChunkShift = 6;
    internal const int RowsPerChunk = 1 << ChunkShift; // 64 KB of ints: below the large-object size

    private readonly int[][] _chunks;   // empty for a counter (CountedRun.cs)
    private readonly Counter? _counter; // rows computed from a template instead of stored
    private readonly bool[] _accept;  // [StateCount]
    private bool _trimmed;            // Trim() would give this automaton back (set once known)

    /// <param name="next">[StateCount * 256] targets, -1 for no move.</param>
    /// <param name="accept">[StateCount] whether each state accepts.</param>
    public ByteDfa(int[] next, bool[] accept)
        : this(next.Length <= RowsPerChunk << 8 ? [next] : next.Chunk(RowsPerChunk << 8).ToArray(), accept)
    {
    }

    /// <param name="chunks">Rows of 256 targets (-1 for no move), <see cref="RowsPerChunk"/> rows to a chunk (the last may be shorter).</param>
    /// <param name="accept">[StateCount] whether each state accepts.</param>
    internal ByteDfa(int[][] chunks, bool[] accept)
    {
        _chunks = chunks;
        _accept = accept;
    }

    public int StateCount => _accept.Length;

    public int Next(int state, byte b) => _counter is { } counter ? counter.Next(state, b)
        : _chunks[state >> ChunkShift][((state & (RowsPerChunk - 1)) << 8) | b];

    private ReadOnlySpan<int> Row(int state) => _chunks[state >> ChunkShift].AsSpan((state & (RowsPerChunk - 1)) << 8, 256);

    public bool IsAccepting(int state) => _accept[state];

    /// <summary>The 256 targets of <paramref name="state"/>: the stored row itself, or <paramref name="scratch"/> filled for a counter.</summary>
    internal ReadOnlySpan<int> RowOf(int state, Span<int> scratch)
    {
        if (_counter is { } counter)
        {
            counter.FillRow(state, scratch);
            return scratch;
        }

        return Row(state);
    }

    /// <summary>
    /// Where the run of equal targets at <paramref name="from"/> in <paramref name="row"/> ends (the first
    /// byte after it, at most 256). Rows are a few long runs; finding their ends with a vector search,
    /// not byte by byte, is what the loops over whole rows (product, trim, lifting to JSON) share.
    /// </summary>
    internal static int RunEnd(ReadOnlySpan<int> row, int from)
    {
        var length = row[from..].IndexOfAnyExcept(row[from]);
        return length < 0 ? row.Length : from + length;
    }

    /// <summary>Writes the 256 targets of <paramref name="state"/> (-1: no move) into <paramref name="row"/>.</summary>
    public void CopyRow(int state, Span<int> row)
    {
        if (_counter is { } counter)
        {
            counter.FillRow(state, row);
        }
        else
        {
            Row(state).CopyTo(row);
        }
    }

    /// <summary>True when the automaton accepts no string at all.</summary>
    public bool IsEmpty
    {
        get
        {
            // After trimming, a start state that can still move or accepts is live.
            var t = Trim();
            Span<int> row = stackalloc int[256];
            t.CopyRow(0, row);
            return !t._accept[0] && !row.ContainsAnyExcept(-1);
        }
    }

    public bool Matches(ReadOnlySpan<byte> text)
    {
        var s = 0;
        foreach (var b in text)
        {
            s = Next(s, b);
            if (s < 0)
            {
                return false;
            }
        }

        return _accept[s];
    }

    /// <summary>Calls <paramref name="edge"/> once per maximal byte range with the same target.</summary>
    public void ForEachRange(int state, Action<byte, byte, int> edge)
    {
        Span<int> scratch = stackalloc int[256];
        var row = RowOf(state, scratch);
        for (var b = 0; b < 256;)
        {
            var (to, end) = (row[b], RunEnd(row, b));
            if (to >= 0)
            {
                edge((byte)b, (byte)(end - 1), to);
            }

            b = end;
        }
    }

    /// <summary>
    /// Subset construction from an NFA without call edges. <paramref name="universal"/> names NFA
    /// states from which every well-formed UTF-8 text is accepted (the trailing <c>.*</c> of a
    /// pattern search): a set holding one of them accepts exactly that, so all such sets become one
    /// state instead of dragging the rest of the pattern along (<c>.{1000}</c> would otherwise keep a
    /// thousand positions alive in every state after the match).
    /// </summary>
    public static ByteDfa FromNfa(ByteNfa nfa, int start, int accept, IReadOnlySet<int>? universal = null)
    {
        var budget = nfa.Budget;
        var sets = new StateSetTable();       // state id -> the NFA states naming it
        var bySeeds = new StateSetTable();    // distinct seeds -> seedTargets[id], the state of their closure
        var seedTargets = new List<int>();
        var next = new GrowableRows();
        var acc = new List<bool>();
        int[]? universalSet = null;
        int Intern(ReadOnlySpan<int> set)
        {
            if (universal is not null)
            {
                foreach (var s in set)
                {
                    if (universal.Contains(s))
                    {
                        universalSet ??= nfa.Closure([s]);
                        set = universalSet;
                        break;
                    }
                }
            }

            var id = sets.GetOrAdd(set, out var added);
            if (!added)
            {
                return id;
            }

            if (id >= MaxStates)
            {
                throw new SchemaCompileException("pattern", "#", $"the automaton needs more than {MaxStates} states");
            }

            budget.AddState(set.Length);
            acc.Add(set.BinarySearch(accept) >= 0);
            next.AddRow();
            return id;
        }

        Intern(nfa.ScratchClosure([start], -1, activeOnly: false));

        // Per state, one closure per elementary byte interval of its edges, not per byte (EdgeRuns).
        var edges = new EdgeRuns(256);
        var key = new List<int>();
        var bySeed = new Dictionary<int, int>(); // a lone seed -> the state of its closure
        for (var i = 0; i < sets.Count; i++)
        {
            budget.Tick();
            if (TryDisjointEdges(nfa, sets[i], out var lone))
            {
                // Edges in byte order that share no byte (a literal, a character class: most states):
                // each is its own interval with its target as the lone seed, so the grouping into
                // intervals (a scan of all 256 bytes per state) is skipped; states come out in the
                // same order either way.
                foreach (var e in nfa.BytesOf(lone))
                {
                    if (!bySeed.TryGetValue(e.Target, out var target))
                    {
                        bySeed[e.Target] = target = Intern(nfa.ScratchClosure([e.Target], -1, activeOnly: false));
                    }

                    next.Row(i).Slice(e.Lo, e.Hi - e.Lo + 1).Fill(target);
                }

                continue;
            }

            edges.Clear();
            foreach (var s in sets[i])
            {
                foreach (var e in nfa.BytesOf(s))
                {
                    edges.Add(e.Lo, e.Hi, e.Target);
                }
            }

            foreach (var (lo, length, seeds) in edges.Runs())
            {
                var distinct = SortedDistinct(seeds, key);
                var seedId = bySeeds.GetOrAdd(distinct, out var added);
                if (added)
                {
                    seedTargets.Add(Intern(nfa.ScratchClosure(distinct, -1, activeOnly: false)));
                }

                next.Row(i).Slice(lo, length).Fill(seedTargets[seedId]);
            }
        }

        return new ByteDfa(next.Chunks, [.. acc]);
    }

    /// <summary>
    /// Whether exactly one member of <paramref name="set"/> has byte edges (<paramref name="lone"/>)
    /// and they are in ascending byte order with no byte in two of them.
    /// </summary>
    private static bool TryDisjointEdges(ByteNfa nfa, ReadOnlySpan<int> set, out int lone)
    {
        lone = -1;
        foreach (var s in set)
        {
            if (!nfa.BytesOf(s).IsEmpty)
            {
                if (lone >= 0)
                {
                    return false;
                }

                lone = s;
            }
        }

        var next = 0; // the first byte after the edges so far
        foreach (var e in lone < 0 ? [] : nfa.BytesOf(lone))
        {
            if (e.Lo < next)
            {
                return false;
            }

            next = e.Hi + 1;
        }

        return lone >= 0;
    }

    private static ReadOnlySpan<int> SortedDistinct(List<int> values, List<int> scratch)
    {
        scratch.Clear();
        scratch.AddRange(values);
        var key = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(scratch);
        key.Sort();
        var distinct = key.Length == 0 ? 0 : 1;
        for (var k = 1; k < key.Length; k++)
        {
            if (key[k] != key[distinct - 1])
            {
                key[distinct++] = key[k];
            }
        }

        return key[..distinct];
    }

    /// <summary>Product automaton accepting strings both accept.</summary>
    public static ByteDfa Intersect(ByteDfa a, ByteDfa b, CompileBudget? budget = null) =>
        Product(a, b, (x, y) => x && y, complete: false, budget ?? CompileBudget.Unlimited);

    /// <summary>Strings that <paramref name="a"/> accepts and <paramref name="b"/> rejects.</summary>
    public static ByteDfa Subtract(ByteDfa a, ByteDfa b, CompileBudget? budget = null) =>
        Product(a, b, (x, y) => x && !y, complete: true, budget ?? CompileBudget.Unlimited);

    /// <summary>Products of at most this many state pairs keep their pairs' ids in a flat table (below the large-object size).</summary>
    private const int FlatPairs = 1 << 14;

    private static ByteDfa Product(ByteDfa a, ByteDfa b, Func<bool, bool, bool> accept, bool complete, CompileBudget budget)
    {
        // With complete = true a missing move of b means "b is dead", which must keep going.
        // A pair's id (plus one) in a flat table over every pair when that is small (most products:
        // a string's automaton with a format or a pattern of tens of states), else in a dictionary.
        var width = b.StateCount + 1; // y = -1 (b dead) too
        var flat = (long)a.StateCount * width <= FlatPairs ? new int[a.StateCount * width] : null;
        var ids = flat is null ? new Dictionary<(int, int), int>() : null;
        var queue = new List<(int A, int B)>();
        var next = new GrowableRows();
        var acc = new List<bool>();
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        int Intern(int x, int y)
        {
            if (flat is not null)
            {
                if (flat[(x * width) + y + 1] is var known and > 0)
                {
                    return known - 1;
                }
            }
            else if (ids!.TryGetValue((x, y), out var found))
            {
                return found;
            }

            var id = queue.Count;
            if (id >= MaxStates)
            {
                throw new SchemaCompileException("pattern", "#", $"the automaton needs more than {MaxStates} states");
            }

            budget.AddState(2);
            if (flat is not null)
            {
                flat[(x * width) + y + 1] = id + 1;
            }
            else
            {
                ids![(x, y)] = id;
            }

            queue.Add((x, y));
            acc.Add(accept(a._accept[x], y >= 0 && b._accept[y]));
            next.AddRow();
            return id;
        }

        Intern(0, 0);

        // Rows are read whole, and a byte that moves both automata where the byte before did reuses its
        // target: rows are a few runs of equal targets, and a dictionary hit per byte (256 per state of
        // a maxLength counter times the UTF-8 automaton) was most of a string's compile. States are
        // still numbered in the order their pairs first occur.
        Span<int> scratchA = stackalloc int[256];
        Span<int> scratchB = stackalloc int[256];
        Span<int> dead = stackalloc int[256];
        dead.Fill(-1);
        Span<int> row = stackalloc int[256];
        for (var i = 0; i < queue.Count; i++)
        {
            var (x, y) = queue[i];
            var rowA = a.RowOf(x, scratchA);
            var rowB = y >= 0 ? b.RowOf(y, scratchB) : dead;

            // A run at a time where both rows keep their targets (pairs are still interned in byte order).
            int lastX = int.MinValue, lastY = int.MinValue, lastTarget = -1;
            for (var c = 0; c < 256;)
            {
                var end = Math.Min(RunEnd(rowA, c), RunEnd(rowB, c));
                var (nx, ny) = (rowA[c], rowB[c]);
                if (nx < 0 || (ny < 0 && !complete))
                {
                    row[c..end].Fill(-1);
                }
                else
                {
                    if (nx != lastX || ny != lastY)
                    {
                        (lastX, lastY, lastTarget) = (nx, ny, Intern(nx, ny));
                    }

                    row[c..end].Fill(lastTarget);
                }

                c = end;
            }

            row.CopyTo(next.Row(i)); // after the interning: a new row may move the chunk
        }

        return new ByteDfa(next.Chunks, [.. acc]).Trim();
    }

    /// <summary>Removes states from which no accepting state is reachable (keeps state 0).</summary>
    public ByteDfa Trim()
    {
        if (_trimmed)
        {
            return this; // a product is trimmed as it is made; IsEmpty trims again
        }

        var n = StateCount;
        var live = new bool[n];

        // Predecessors in compressed rows, each edge s -> t once however many bytes it takes (a row
        // of 256 bytes usually has a handful of distinct targets; a list entry per byte cost
        // megabytes on automata of thousands of states). The rows are read once, for the distinct
        // edges, which are then laid out by target (reading every row twice, to count and then to
        // fill, was most of the time of a trim).
        var seenBy = new int[n];
        Array.Fill(seenBy, -1);
        var counts = new int[n + 1];   // then: row starts (prefix sums)
        var edges = new List<long>();  // (target, source) packed
        Span<int> scratch = stackalloc int[256]; // a row read whole (in runs), not byte by byte through Next
        for (var s = 0; s < n; s++)
        {
            var row = RowOf(s, scratch);
            for (var c = 0; c < 256; c = RunEnd(row, c))
            {
                var t = row[c];
                if (t >= 0 && seenBy[t] != s)
                {
                    seenBy[t] = s;
                    counts[t + 1]++;
                    edges.Add(((long)t << 32) | (uint)s);
                }
            }
        }

        for (var t = 0; t < n; t++)
        {
            counts[t + 1] += counts[t];
        }

        var predecessors = new int[counts[n]];
        var fill = counts[..n];
        foreach (var e in edges)
        {
            predecessors[fill[(int)(e >> 32)]++] = (int)e;
        }

        var stack = new Stack<int>();
        for (var s = 0; s < n; s++)
        {
            if (_accept[s])
            {
                live[s] = true;
                stack.Push(s);
            }
        }

        while (stack.Count > 0)
        {
            var t = stack.Pop();
            for (var k = counts[t]; k < counts[t + 1]; k++)
            {
                var p = predecessors[k];
                if (!live[p])
                {
                    live[p] = true;
                    stack.Push(p);
                }
            }
        }

        if (Array.TrueForAll(live, l => l))
        {
            _trimmed = true;
            return this; // nothing to drop (a search pattern usually): no copy of every row
        }

        var map = new int[n];
        var count = 0;
        for (var s = 0; s < n; s++)
        {
            map[s] = s == 0 || live[s] ? count++ : -1;
        }

        var next = new GrowableRows();
        var acc = new bool[count];
        for (var s = 0; s < n; s++)
        {
            if (map[s] < 0)
            {
                continue;
            }

            acc[map[s]] = _accept[s];
            next.AddRow();
            var row = RowOf(s, scratch);
            var kept = next.Row(map[s]);
            for (var c = 0; c < 256;)
            {
                var (t, end) = (row[c], RunEnd(row, c));
                kept[c..end].Fill(t >= 0 && live[t] ? map[t] : -1);
                c = end;
            }
        }

        return new ByteDfa(next.Chunks, acc) { _trimmed = true };
    }

    /// <summary>Dense 256-entry rows (-1 filled) in the chunks of a <see cref="ByteDfa"/>: the first chunk doubles from 16 rows (most automata are small), later ones are full.</summary>
    internal sealed class GrowableRows
    {
        private readonly List<int[]> _chunks = [new int[16 << 8]];
        private int _count;

        public int[][] Chunks => [.. _chunks];

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddRow()
        {
            var chunk = _count >> ChunkShift;
            var offset = (_count & (RowsPerChunk - 1)) << 8;
            if (chunk == _chunks.Count)
            {
                _chunks.Add(new int[RowsPerChunk << 8]);
            }
            else if (offset + 256 > _chunks[chunk].Length)
            {
                var grown = _chunks[chunk];
                Array.Resize(ref grown, Math.Min(grown.Length * 2, RowsPerChunk << 8));
                _chunks[chunk] = grown;
            }

            _chunks[chunk].AsSpan(offset, 256).Fill(-1);
            _count++;
        }

        public Span<int> Row(int state) => _chunks[state >> ChunkShift].AsSpan((state & (RowsPerChunk - 1)) << 8, 256);
    }
}
