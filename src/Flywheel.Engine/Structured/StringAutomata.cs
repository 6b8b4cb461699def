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

    /// <summary>Exactly the given texts (UTF-8).</summary>
    public static ByteDfa Literals(IEnumerable<string> texts, CompileBudget? budget = null)
    {
        var nfa = new ByteNfa(budget);
        var start = nfa.AddState();
        var end = nfa.AddState();
        foreach (var t in texts)
        {
            nfa.AddEps(nfa.Literal(start, Encoding.UTF8.GetBytes(t)), end);
        }

        return ByteDfa.FromNfa(nfa, start, end).Trim();
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
        Span<int> row = stackalloc int[256];
        for (var d = 0; d < plain.Length; d++)
        {
            // Literal bytes as ranges (runs of bytes with the same target): one edge per byte
            // made a long pattern's string a few hundred edges per state. The row is read once, not
            // byte by byte through the automaton's lookup.
            decoded.CopyRow(d, row);
            var runStart = -1;
            var runTarget = -1;
            for (var b = 0x20; b <= 256; b++)
            {
                var t = b < 256 && b != '"' && b != '\\' ? row[b] : -1;
                if (runStart >= 0 && t != runTarget)
                {
                    nfa.AddBytes(plain[d], (byte)runStart, (byte)(b - 1), plain[runTarget]);
                    runStart = -1;
                }

                if (t >= 0 && runStart < 0)
                {
                    runStart = b;
                    runTarget = t;
                }
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

    private static int CharsIn(ByteNfa nfa, int from, string chars)
    {
        var to = nfa.AddState();
        foreach (var c in chars)
        {
            nfa.AddBytes(from, (byte)c, (byte)c, to);
        }

        return to;
    }
}
