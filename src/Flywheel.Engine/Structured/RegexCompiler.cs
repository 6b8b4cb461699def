namespace Flywheel.Structured;

/// <summary>
/// Turns a JSON Schema <c>pattern</c> into a DFA over the UTF-8 bytes of the decoded string.
/// JSON Schema patterns are searches, not full matches: an alternative without '^' may be preceded
/// by anything, one without '$' may be followed by anything.
/// </summary>
internal static class RegexCompiler
{
    /// <summary>DFA accepting exactly the strings (as UTF-8) in which the pattern finds a match.</summary>
    public static ByteDfa Compile(string pattern, string keyword, string pointer)
    {
        var nfa = new ByteNfa();
        var start = nfa.AddState();
        var accept = nfa.AddState();
        foreach (var (anchoredStart, body, anchoredEnd) in RegexParser.ParseTopLevel(pattern, keyword, pointer))
        {
            var s = nfa.AddState();
            nfa.AddEps(start, s);
            if (!anchoredStart)
            {
                s = AnyStar(nfa, s);
            }

            s = Emit(nfa, body, s);
            if (!anchoredEnd)
            {
                s = AnyStar(nfa, s);
            }

            nfa.AddEps(s, accept);
        }

        return ByteDfa.FromNfa(nfa, start, accept).Trim();
    }

    /// <summary>DFA accepting exactly the UTF-8 strings that fully match <paramref name="node"/>.</summary>
    public static ByteDfa CompileFull(RegexNode node)
    {
        var nfa = new ByteNfa();
        var start = nfa.AddState();
        var end = Emit(nfa, node, start);
        return ByteDfa.FromNfa(nfa, start, end).Trim();
    }

    private static int AnyStar(ByteNfa nfa, int from)
    {
        var loop = nfa.AddState();
        nfa.AddEps(from, loop);
        CodePointSet.All.AddTo(nfa, loop, loop);
        return loop;
    }

    /// <summary>Thompson construction; returns the fragment's end state.</summary>
    public static int Emit(ByteNfa nfa, RegexNode node, int from)
    {
        switch (node)
        {
            case RegexSet set:
                var to = nfa.AddState();
                set.Set.AddTo(nfa, from, to);
                return to;
            case RegexConcat concat:
                foreach (var item in concat.Items)
                {
                    from = Emit(nfa, item, from);
                }

                return from;
            case RegexAlt alt:
                var end = nfa.AddState();
                foreach (var item in alt.Items)
                {
                    var s = nfa.AddState();
                    nfa.AddEps(from, s);
                    nfa.AddEps(Emit(nfa, item, s), end);
                }

                return end;
            case RegexRepeat rep:
                for (var k = 0; k < rep.Min; k++)
                {
                    from = Emit(nfa, rep.Item, from);
                }

                if (rep.Max < 0)
                {
                    // Fresh loop state so the loop cannot leak into what came before.
                    var loop = nfa.AddState();
                    nfa.AddEps(from, loop);
                    nfa.AddEps(Emit(nfa, rep.Item, loop), loop);
                    return loop;
                }

                var done = nfa.AddState();
                nfa.AddEps(from, done);
                for (var k = rep.Min; k < rep.Max; k++)
                {
                    from = Emit(nfa, rep.Item, from);
                    nfa.AddEps(from, done);
                }

                return done;
            default:
                throw new InvalidOperationException($"unknown regex node {node.GetType().Name}");
        }
    }
}
