using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// Turns a JSON Schema <c>pattern</c> into a DFA over the UTF-8 bytes of the decoded string.
/// JSON Schema patterns are searches, not full matches: an alternative without '^' may be preceded
/// by anything, one without '$' may be followed by anything.
/// </summary>
internal static class RegexCompiler
{
    /// <summary>DFA accepting exactly the strings (as UTF-8) in which the pattern finds a match.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ByteDfa Compile(string pattern, string keyword, string pointer, CompileBudget? budget = null)
    {
        var branches = RegexParser.ParseTopLevel(pattern, keyword, pointer, out var notPrefix);
        var dfa = branches is [(var onlyStart, RegexRepeat { Item: RegexSet onlyRun, Min: > 0 } onlyRep, var onlyEnd)] && !(onlyStart && onlyEnd)
            ? ByteDfa.CountedRunSearch(onlyRun.Set, onlyRep.Min, onlyStart, onlyEnd, budget ?? CompileBudget.Unlimited) // one counted run (.{1000}), built directly
            : CompileBySubsets(branches, budget);

        // ^(?!L)R: the strings R finds that do not start with a match of L.
        return notPrefix is null ? dfa : ByteDfa.Subtract(dfa, CompileBySubsets([(true, notPrefix, false)], budget), budget);
    }

    /// <summary>The search automaton by subset construction of its NFA (every pattern but a lone counted run).</summary>
    internal static ByteDfa CompileBySubsets(List<(bool Start, RegexNode Body, bool End)> branches, CompileBudget? budget = null)
    {
        var nfa = new ByteNfa(budget);
        var start = nfa.AddState();
        var accept = nfa.AddState();
        var universal = new HashSet<int>(); // the trailing ".*" loops: once there, the search has matched
        foreach (var (anchoredStart, body, anchoredEnd) in branches)
        {
            var s = nfa.AddState();
            nfa.AddEps(start, s);
            if (body is RegexRepeat { Item: RegexSet run, Min: > 0 } rep && !(anchoredStart && anchoredEnd))
            {
                nfa.AddEps(EmitRunSearch(nfa, run.Set, rep.Min, anchoredStart, anchoredEnd, universal, s), accept);
                continue;
            }

            if (!anchoredStart)
            {
                s = AnyStar(nfa, s);
            }

            s = Emit(nfa, body, s);
            if (!anchoredEnd)
            {
                s = AnyStar(nfa, s);
                universal.Add(s);
            }

            nfa.AddEps(s, accept);
        }

        return ByteDfa.FromNfa(nfa, start, accept, universal).Trim();
    }

    /// <summary>DFA accepting exactly the UTF-8 strings that fully match <paramref name="node"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ByteDfa CompileFull(RegexNode node)
    {
        var nfa = new ByteNfa();
        var start = nfa.AddState();
        var end = Emit(nfa, node, start);
        return ByteDfa.FromNfa(nfa, start, end).Trim();
    }

    /// <summary>
    /// A search for one counted run <c>S{min,max}</c> with at most one anchor, as a counter of the
    /// current run of S characters: "contains a run of at least min" (no anchors), "starts with
    /// one" (^) or "ends with one" ($); max never matters, since a longer run holds a match of
    /// exactly min. Determinizing the plain construction (<c>.*</c>, min copies of S, <c>.*</c>)
    /// names each state by every position a match could have started at: quadratic in min
    /// (<c>.{1000}</c> took tens of seconds and hundreds of MB); this automaton is deterministic
    /// per character and linear in min. Returns the end state.
    /// </summary>
    private static int EmitRunSearch(ByteNfa nfa, CodePointSet set, int min, bool anchoredStart, bool anchoredEnd, HashSet<int> universal, int from)
    {
        var other = set.Complement();
        var count = new int[min + 1]; // count[i]: the current run of S characters is i long (min: at least min)
        count[0] = from;
        for (var i = 1; i <= min; i++)
        {
            count[i] = nfa.AddState();
        }

        for (var i = 0; i < min; i++)
        {
            set.AddTo(nfa, count[i], count[i + 1]);
            if (!anchoredStart)
            {
                other.AddTo(nfa, count[i], count[0]); // the run is broken: start counting again
            }
        }

        if (anchoredEnd)
        {
            // The text must end inside a long enough run: keep counting after min, reset on others.
            set.AddTo(nfa, count[min], count[min]);
            other.AddTo(nfa, count[min], count[0]);
            return count[min];
        }

        var rest = AnyStar(nfa, count[min]); // matched: anything may follow
        universal.Add(rest);
        return rest;
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
