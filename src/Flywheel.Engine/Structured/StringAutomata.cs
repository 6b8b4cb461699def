using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;

namespace Flywheel.Structured;

/// <summary>
/// Automata for JSON string values. Constraints (length, pattern, format, excluded names) are
/// intersected as DFAs over the UTF-8 bytes of the <em>decoded</em> string, then lifted to the
/// JSON-encoded form: each decoded character may be written literally (when JSON allows it) or
/// with a short escape (\" \\ \/ \b \f \n \r \t). \uXXXX escapes are only generated for strings
/// without such constraints (a documented narrowing: every generated string is still valid).
/// </summary>
internal static class StringAutomata
{
    /// <summary>
    /// maxLength values above this are narrowed to it (the counting automaton grows linearly
    /// with the bound); a minLength above it is refused.
    /// </summary>
    public const int MaxCountedLength = 2048;

    private static readonly Lazy<ByteDfa> AnyDecoded = new(() =>
        RegexCompiler.CompileFull(new RegexRepeat(new RegexSet(CodePointSet.All), 0, -1)));

    /// <summary>Any well-formed UTF-8 text.</summary>
    public static ByteDfa AnyText => AnyDecoded.Value;

    private static readonly Lazy<ByteDfa> AnyBmp = new(() =>
        RegexCompiler.CompileFull(new RegexRepeat(new RegexSet(CodePointSet.Of([(0, 0xFFFF)])), 0, -1)));

    /// <summary>
    /// UTF-8 texts whose length in code points lies in [min, max] (max null = unbounded). With a
    /// maximum, only characters of the Basic Multilingual Plane are allowed (a narrowing): .NET
    /// validators count UTF-16 units where the spec counts code points, and BMP-only strings have
    /// the same length under both.
    /// </summary>
    public static ByteDfa Length(int min, int? max, CompileBudget? budget = null)
    {
        var top = max ?? min;
        var n = top + 1;

        // Rows straight into the automaton's chunks: one flat array of them was a large object
        // (400 KB for maxLength 400) copied into chunks at once, garbage for a collection per compile.
        var chunks = new int[(n + ByteDfa.RowsPerChunk - 1) / ByteDfa.RowsPerChunk][];
        var accept = new bool[n];
        for (var count = 0; count < n; count++)
        {
            var (chunk, row) = Math.DivRem(count, ByteDfa.RowsPerChunk);
            chunks[chunk] ??= new int[Math.Min(n - (chunk * ByteDfa.RowsPerChunk), ByteDfa.RowsPerChunk) << 8];
            var next = chunks[chunk].AsSpan(row << 8, 256);
            accept[count] = count >= min;
            var to = count + 1 > top ? (max is null ? top : -1) : count + 1;
            next[..0x80].Fill(to);
            next[0x80..0xC0].Fill(count); // a continuation byte: the same character
            next[0xC0..].Fill(to);
        }

        return ByteDfa.Intersect(max is null ? AnyText : AnyBmp.Value, new ByteDfa(chunks, accept), budget);
    }

    // AnyText intersected with a shared automaton (a format's), and the states the product counted.
    private static readonly ConcurrentDictionary<ByteDfa, (ByteDfa Text, long States)> TextAndCache = new();

    /// <summary>
    /// <see cref="ByteDfa.Intersect"/> of <see cref="AnyText"/> and <paramref name="shared"/>, an
    /// automaton that lives for the process (a format's, from <see cref="StringFormats.Get"/>): worked
    /// out once and kept, as the format itself is. A format's string without a length was this product
    /// at every compile (a tenth of a small schema's compile for two dates). The budget is charged
    /// the states the product counted, as if it had been made again.
    /// </summary>
    public static ByteDfa TextAnd(ByteDfa shared, CompileBudget budget)
    {
        if (!TextAndCache.TryGetValue(shared, out var entry))
        {
            var counter = new CompileBudget(int.MaxValue / CompileBudget.NfaStatesPerState, Timeout.InfiniteTimeSpan, CancellationToken.None);
            entry = (ByteDfa.Intersect(AnyText, shared, counter), counter.StateCount);
            TextAndCache.TryAdd(shared, entry);
        }

        budget.AddStates(entry.States, 2); // what ByteDfa.Intersect counts per product state
        return entry.Text;
    }

    /// <summary>
    /// Exactly the given texts (UTF-8): their trie, made directly from the sorted texts (a node is a
    /// run of them sharing a prefix), its states numbered breadth first in byte order. The budget is
    /// charged as for an automaton of one chain of states per text made deterministic. (Building that
    /// automaton and determinizing it took about 1.5 times as long for fourteen property names.)
    /// </summary>
    public static ByteDfa Literals(IEnumerable<string> texts, CompileBudget? budget = null)
    {
        budget ??= CompileBudget.Unlimited;
        var keys = SortedTexts(texts, budget);
        var rows = new ByteDfa.GrowableRows();
        var accept = new List<bool>();
        var nodes = new List<(int Depth, int Lo, int Hi)> { (0, 0, keys.Count) };
        var children = new List<(byte Byte, int Lo, int Hi)>();
        for (var i = 0; i < nodes.Count; i++)
        {
            budget.Tick();
            var (depth, lo, hi) = nodes[i];
            budget.AddState(Math.Max(hi - lo, 1));
            accept.Add(TrieNode(keys, depth, lo, hi, children));
            rows.AddRow();
            var row = rows.Row(i); // after the row is added: a new row may move the chunk
            foreach (var (b, childLo, childHi) in children)
            {
                row[b] = nodes.Count;
                nodes.Add((depth + 1, childLo, childHi));
            }
        }

        return new ByteDfa(rows.Chunks, [.. accept]).Trim();
    }

    /// <summary>
    /// The texts in UTF-8, sorted bytewise (so a trie node is a run of them), with the budget charged as
    /// for an automaton of one chain of states per text: a start, an end, and a state per byte.
    /// </summary>
    private static List<byte[]> SortedTexts(IEnumerable<string> texts, CompileBudget budget)
    {
        var keys = texts.Select(Encoding.UTF8.GetBytes).ToList();
        var bytes = keys.Sum(t => t.Length);
        for (var k = -2; k < bytes; k++)
        {
            budget.AddNfaState();
        }

        keys.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
        return keys;
    }

    /// <summary>
    /// The trie node of the sorted <paramref name="keys"/>[<paramref name="lo"/>..<paramref name="hi"/>),
    /// which share their first <paramref name="depth"/> bytes: its children (a byte, and the run of keys
    /// with that byte next) in byte order into <paramref name="children"/>, and whether a text ends here
    /// (such texts, copies of one, sort first in the run).
    /// </summary>
    private static bool TrieNode(List<byte[]> keys, int depth, int lo, int hi, List<(byte Byte, int Lo, int Hi)> children)
    {
        children.Clear();
        var k = lo;
        while (k < hi && keys[k].Length == depth)
        {
            k++;
        }

        var ends = k > lo;
        while (k < hi)
        {
            var b = keys[k][depth];
            var end = k;
            while (end < hi && keys[end][depth] == b)
            {
                end++;
            }

            children.Add((b, k, end));
            k = end;
        }

        return ends;
    }

    // AnyText's rows as runs of one target (first byte, last byte, target), read once for the process.
    private static readonly Lazy<(byte Lo, byte Hi, int To)[][]> AnyTextRuns = new(() =>
    {
        var runs = new (byte, byte, int)[AnyText.StateCount][];
        for (var s = 0; s < runs.Length; s++)
        {
            var list = new List<(byte, byte, int)>();
            AnyText.ForEachRange(s, (lo, hi, to) => list.Add((lo, hi, to)));
            runs[s] = [.. list];
        }

        return runs;
    });

    /// <summary>
    /// Any text but the given ones: <c>ByteDfa.Subtract(AnyText, Literals(texts))</c>, the keys an object
    /// allows besides its declared names, made directly. A state is a trie node of the texts read so
    /// far (with the one state of <see cref="AnyText"/> its bytes lead to) or, once the text has left
    /// the trie, a state of <see cref="AnyText"/> alone; each row is AnyText's row as runs with the
    /// node's children laid over it. States are numbered as the product numbers them (breadth first,
    /// in byte order), and the budget is charged as for the trie and the product. (The product read
    /// and compared both automata's 256 bytes for every state: with the trie made first, about three
    /// times as long for fourteen property names.)
    /// </summary>
    public static ByteDfa TextExcept(IEnumerable<string> texts, CompileBudget? budget = null)
    {
        budget ??= CompileBudget.Unlimited;
        var keys = SortedTexts(texts, budget);
        var text = AnyText;
        var textRuns = AnyTextRuns.Value;
        var outside = new int[text.StateCount]; // the state of an AnyText state once outside the trie
        Array.Fill(outside, -1);
        var states = new List<(int X, int Depth, int Lo, int Hi)> { (0, 0, 0, keys.Count) }; // Depth -1: outside
        var rows = new ByteDfa.GrowableRows();
        var accept = new List<bool>();
        var children = new List<(byte Byte, int Lo, int Hi)>();
        for (var i = 0; i < states.Count; i++)
        {
            budget.Tick();
            var (x, depth, lo, hi) = states[i];
            var ends = false;
            children.Clear();
            if (depth >= 0)
            {
                budget.AddState(Math.Max(hi - lo, 1)); // the trie's state
                ends = TrieNode(keys, depth, lo, hi, children);
            }

            budget.AddState(2); // the product's state
            accept.Add(text.IsAccepting(x) && !ends);
            rows.AddRow();
            var row = rows.Row(i); // after the row is added: a new row may move the chunk
            var next = 0; // the first child not laid over yet
            foreach (var (runLo, runHi, to) in textRuns[x])
            {
                for (var b = (int)runLo; b <= runHi;)
                {
                    if (next < children.Count && children[next].Byte == b)
                    {
                        var (_, childLo, childHi) = children[next++];
                        row[b] = states.Count;
                        states.Add((to, depth + 1, childLo, childHi));
                        b++;
                        continue;
                    }

                    var stop = next < children.Count && children[next].Byte <= runHi ? children[next].Byte : runHi + 1;
                    if (outside[to] < 0)
                    {
                        outside[to] = states.Count;
                        states.Add((to, -1, 0, 0));
                    }

                    row[b..stop].Fill(outside[to]);
                    b = stop;
                }
            }

            if (next < children.Count)
            {
                throw new InvalidOperationException("a text is not well-formed UTF-8");
            }
        }

        return new ByteDfa(rows.Chunks, [.. accept]).Trim();
    }

    /// <summary>
    /// Appends a JSON string (quotes included) whose decoded content <paramref name="decoded"/>
    /// accepts; returns the end state.
    /// </summary>
    public static int EmitLifted(ByteNfa nfa, ByteDfa decoded, int from)
    {
        var open = nfa.Literal(from, "\""u8);
        var end = nfa.AddState();
        var plain = new int[decoded.StateCount];
        for (var d = 0; d < plain.Length; d++)
        {
            plain[d] = d == 0 ? open : nfa.AddState();
        }

        ReadOnlySpan<byte> escapeLetters = "\"\\/bfnrt"u8;
        ReadOnlySpan<byte> escapeValues = "\"\\/\b\f\n\r\t"u8;
        Span<int> scratch = stackalloc int[256];
        for (var d = 0; d < plain.Length; d++)
        {
            // Literal bytes as ranges (runs of bytes with the same target): one edge per byte
            // made a long pattern's string a few hundred edges per state. The row is read once, in
            // runs found by a vector search, not byte by byte; the quote and the backslash (never
            // literal) end a run.
            var row = decoded.RowOf(d, scratch);
            for (var b = 0x20; b < 256;)
            {
                if (b is '"' or '\\')
                {
                    b++;
                    continue;
                }

                var stop = ByteDfa.RunEnd(row, b);
                stop = b < '"' && stop > '"' ? '"' : b < '\\' && stop > '\\' ? '\\' : stop;
                if (row[b] >= 0)
                {
                    nfa.AddBytes(plain[d], (byte)b, (byte)(stop - 1), plain[row[b]]);
                }

                b = stop;
            }

            var escape = -1;
            for (var k = 0; k < escapeLetters.Length; k++)
            {
                var t = row[escapeValues[k]];
                if (t < 0)
                {
                    continue;
                }

                if (escape < 0)
                {
                    escape = nfa.AddState();
                    nfa.AddBytes(plain[d], (byte)'\\', (byte)'\\', escape);
                }

                nfa.AddBytes(escape, escapeLetters[k], escapeLetters[k], plain[t]);
            }

            if (decoded.IsAccepting(d))
            {
                nfa.AddBytes(plain[d], (byte)'"', (byte)'"', end);
            }
        }

        return end;
    }

    /// <summary>Appends any JSON string, with every escape JSON allows (surrogate pairs well formed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int EmitAnyJsonString(ByteNfa nfa, int from)
    {
        var content = nfa.Literal(from, "\""u8);
        nfa.AddBytes(content, 0x20, 0x21, content);
        nfa.AddBytes(content, 0x23, 0x5B, content);
        nfa.AddBytes(content, 0x5D, 0x7F, content);
        CodePointSet.Of([(0x80, CodePointSet.MaxCodePoint)]).AddTo(nfa, content, content);
        var escape = nfa.Range(content, (byte)'\\', (byte)'\\');
        foreach (var c in "\"\\/bfnrt"u8)
        {
            nfa.AddBytes(escape, c, c, content);
        }

        var u = nfa.Range(escape, (byte)'u', (byte)'u');

        // Not a surrogate: first digit other than D, or D followed by 0-7.
        var notD = HexDigitsExcept(nfa, u, "dD");
        nfa.AddEps(Hex(nfa, Hex(nfa, Hex(nfa, notD))), content);
        var d = Either(nfa, u, 'd', 'D');
        nfa.AddEps(Hex(nfa, Hex(nfa, nfa.Range(d, (byte)'0', (byte)'7'))), content);

        // High surrogate \uD800-\uDBFF must be followed by a low one \uDC00-\uDFFF.
        var high = CharsIn(nfa, Either(nfa, u, 'd', 'D'), "89abAB");
        var low = nfa.Literal(Hex(nfa, Hex(nfa, high)), "\\u"u8);
        var lowD = CharsIn(nfa, Either(nfa, low, 'd', 'D'), "cdefCDEF");
        nfa.AddEps(Hex(nfa, Hex(nfa, lowD)), content);
        return nfa.Literal(content, "\""u8);
    }

    private static int Hex(ByteNfa nfa, int from) => CharsIn(nfa, from, "0123456789abcdefABCDEF");

    private static int HexDigitsExcept(ByteNfa nfa, int from, string except) =>
        CharsIn(nfa, from, new string("0123456789abcdefABCDEF".Where(c => !except.Contains(c)).ToArray()));

    private static int Either(ByteNfa nfa, int from, char a, char b) => CharsIn(nfa, from, $"{a}{b}");

    /// <summary>
    /// One step on any of <paramref name="chars"/> (ASCII), as ranges of consecutive bytes: an edge per
    /// character made the hex digits of every \uXXXX escape 22 edges, and split each of them into a
    /// byte class of its own in every grammar with a string.
    /// </summary>
    private static int CharsIn(ByteNfa nfa, int from, string chars)
    {
        var to = nfa.AddState();
        Span<bool> has = stackalloc bool[128];
        foreach (var c in chars)
        {
            has[c] = true;
        }

        for (var lo = 0; lo < 128; lo++)
        {
            if (!has[lo])
            {
                continue;
            }

            var hi = lo;
            while (hi + 1 < 128 && has[hi + 1])
            {
                hi++;
            }

            nfa.AddBytes(from, (byte)lo, (byte)hi, to);
            lo = hi;
        }

        return to;
    }
}
