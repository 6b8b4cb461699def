namespace Flywheel.Structured;

/// <summary>
/// What a token budget needs of one grammar on one vocabulary (see docs/decisions/budget-aware-grammar.md).
/// <see cref="Finish"/> is, per automaton state, the fewest tokens that end the state's rule (its
/// frame) counting one token per byte on bytes the vocabulary has as a single-byte token: a
/// configuration's stack then needs at most the sum over its frames, a sound upper bound on the
/// tokens that complete the document (a longer token only ever saves tokens). <see cref="TokenSlack"/>
/// bounds how much one token can raise that sum, so a matcher with more tokens left than the bound
/// plus the slack needs no per-token check. Immutable; built once per grammar and vocabulary.
/// </summary>
internal sealed class GrammarBudget
{
    /// <summary>A state no run of single-byte tokens completes (or a slack that cannot be bounded).</summary>
    public const int Unbounded = int.MaxValue / 4;

    private GrammarBudget(int[] finish, int minimum, int[] tokenRise)
    {
        Finish = finish;
        Minimum = minimum;
        TokenRise = tokenRise;
        TokenSlack = tokenRise.Length == 0 ? 0 : Math.Max(0, tokenRise.Max());
    }

    /// <summary>[StateCount]: fewest single-byte tokens from the state to the end of its rule, or <see cref="Unbounded"/>.</summary>
    public int[] Finish { get; }

    /// <summary>Fewest tokens of a complete document from the start (<see cref="Unbounded"/> when none is made of single-byte tokens).</summary>
    public int Minimum { get; }

    /// <summary>[vocabulary Count]: most each token can add to a configuration's bound (<see cref="Unbounded"/>: no bound).</summary>
    public int[] TokenRise { get; }

    /// <summary>Most any one token can add to a configuration's bound, or <see cref="Unbounded"/>.</summary>
    public int TokenSlack { get; }

    private int[]? _textRegionFinish;

    /// <summary>
    /// The text groups of <paramref name="state"/> that a token made of them only may be read with
    /// (<see cref="CompiledGrammar.TextGroupsOf"/>, or when those are none the groups of runs up to
    /// <see cref="ByteGroups.BoundDepth"/> bytes, <paramref name="bounded"/> then set: the token must
    /// be that short), and the largest <see cref="Finish"/> over the plain states such tokens reach,
    /// <paramref name="state"/> included; -1 when there are no such groups. Such a token leaves a
    /// configuration at one of those states on the same stack, so its bound after is at most this
    /// plus the stack's. The finish is worked out per state on first use (racing threads agree).
    /// </summary>
    public int TextRegionFinish(CompiledGrammar g, int state, out ulong groups, out bool bounded)
    {
        groups = 0;
        bounded = false;
        if (g.Flags[state] != CompiledGrammar.FlagBytes)
        {
            return -1;
        }

        groups = g.TextGroupsOf(state);
        if (groups == 0)
        {
            groups = g.BoundedTextGroupsOf(state);
            bounded = true;
        }

        if (groups == 0)
        {
            return -1;
        }

        var known = _textRegionFinish ??= NewUnknown(g.StateCount);
        if (known[state] == int.MinValue)
        {
            known[state] = RegionFinish(g, state, groups, bounded ? ByteGroups.BoundDepth : int.MaxValue);
        }

        return known[state];
    }

    /// <summary>
    /// Breadth first from <paramref name="state"/> over every byte that can be part of a run of
    /// <paramref name="groups"/> (any byte from 0x80 when multi-byte characters are among them), up
    /// to <paramref name="depth"/> bytes, through plain states: more states than the runs reach, never fewer.
    /// </summary>
    private int RegionFinish(CompiledGrammar g, int state, ulong groups, int depth)
    {
        var bytes = Enumerable.Range(0, 256).Where(b => b < 0x80
            ? (ByteGroups.OfAscii((byte)b) & groups) != 0
            : (groups & ByteGroups.MultiByteChar) != 0).Select(b => (byte)b).ToArray();
        var seen = new HashSet<int> { state };
        var level = new List<int> { state };
        var max = Finish[state];
        for (var d = 0; d < depth && level.Count > 0; d++)
        {
            var next = new List<int>();
            foreach (var s in level)
            {
                foreach (var b in bytes)
                {
                    var to = g.Move(s, b);
                    if (to >= 0 && g.Flags[to] == CompiledGrammar.FlagBytes && seen.Add(to))
                    {
                        max = Math.Max(max, Finish[to]);
                        next.Add(to);
                    }
                }
            }

            level = next;
        }

        return max;
    }

    private static int[] NewUnknown(int count)
    {
        var a = new int[count];
        Array.Fill(a, int.MinValue);
        return a;
    }

    public static GrammarBudget Compute(CompiledGrammar g, TokenVocabulary vocabulary)
    {
        var usable = new bool[g.ClassCount];
        var trie = vocabulary.Trie;
        for (var node = 1; node < trie.NodeCount; node = trie.Skip[node])
        {
            // Depth-1 nodes are the single-byte prefixes; tokens ending there are single-byte tokens.
            if (trie.TokenStart[node + 1] > trie.TokenStart[node])
            {
                usable[g.ClassOf[trie.Label[node]]] = true;
            }
        }

        var finish = FewestToFinish(g, usable);
        var rise = ClassRise(g, finish);
        var tokenRise = new int[vocabulary.Count];
        for (var id = 0; id < tokenRise.Length; id++)
        {
            long sum = 0;
            foreach (var b in vocabulary.BytesOf(id))
            {
                sum += rise[g.ClassOf[b]];
            }

            tokenRise[id] = (int)Math.Clamp(sum, -Unbounded, Unbounded);
        }

        return new GrammarBudget(finish, finish[g.RootStart], tokenRise);
    }

    /// <summary>
    /// Knuth's generalisation of Dijkstra: an accepting state needs 0, a move on a usable class 1 more
    /// than its target, a call the callee's start plus the return state. Each state is settled once,
    /// in order of its value, and a call is tried once both its parts are settled.
    /// </summary>
    private static int[] FewestToFinish(CompiledGrammar g, bool[] usable)
    {
        var n = g.StateCount;
        var c = g.ClassCount;
        var predStart = new int[n + 1];
        for (var s = 0; s < n; s++)
        {
            for (var k = 0; k < c; k++)
            {
                var to = g.Next[(s * c) + k];
                if (to >= 0 && usable[k])
                {
                    predStart[to + 1]++;
                }
            }
        }

        for (var s = 0; s < n; s++)
        {
            predStart[s + 1] += predStart[s];
        }

        var preds = new int[predStart[n]];
        var fill = (int[])predStart.Clone();
        for (var s = 0; s < n; s++)
        {
            for (var k = 0; k < c; k++)
            {
                var to = g.Next[(s * c) + k];
                if (to >= 0 && usable[k])
                {
                    preds[fill[to]++] = s;
                }
            }
        }

        // Calls by the states they wait on (their callee's start and their return state).
        var calls = g.CallStarts.Length;
        var owner = new int[calls];
        var waiting = new List<int>?[n];
        for (var s = 0; s < n; s++)
        {
            for (var k = g.CallOffsets[s]; k < g.CallOffsets[s + 1]; k++)
            {
                owner[k] = s;
                (waiting[g.CallStarts[k]] ??= []).Add(k);
                (waiting[g.CallReturns[k]] ??= []).Add(k);
            }
        }

        var finish = new int[n];
        Array.Fill(finish, Unbounded);
        var settled = new bool[n];
        var queue = new PriorityQueue<int, int>();
        for (var s = 0; s < n; s++)
        {
            if ((g.Flags[s] & CompiledGrammar.FlagAccept) != 0)
            {
                finish[s] = 0;
                queue.Enqueue(s, 0);
            }
        }

        while (queue.TryDequeue(out var s, out var value))
        {
            if (settled[s] || value != finish[s])
            {
                continue;
            }

            settled[s] = true;
            for (var i = predStart[s]; i < predStart[s + 1]; i++)
            {
                Lower(preds[i], value + 1);
            }

            foreach (var k in waiting[s] ?? [])
            {
                var (start, ret) = (g.CallStarts[k], g.CallReturns[k]);
                if (settled[start] && settled[ret])
                {
                    Lower(owner[k], finish[start] + finish[ret]);
                }
            }
        }

        return finish;

        void Lower(int state, int value)
        {
            if (!settled[state] && value < finish[state])
            {
                finish[state] = value;
                queue.Enqueue(state, value);
            }
        }
    }

    /// <summary>
    /// Per byte class, the most a move on it can raise a configuration's bound: the move's rise in
    /// value, plus what the closure after it can add by calling (<see cref="ClosureRaise"/>), plus,
    /// where the closure can pop the frame, what the closures of return states below can add
    /// (popping itself adds nothing: a frame pops from a value of 0). A token's rise is at most the
    /// sum over its bytes. <see cref="Unbounded"/> where a move reaches a state no single-byte run completes.
    /// </summary>
    private static long[] ClassRise(CompiledGrammar g, int[] finish)
    {
        // A byte lowers a bound by at most one on the bound's own (single-byte) classes; -1 is a
        // sound floor for the others too, since a larger rise only makes the check more careful.
        var rise = new long[g.ClassCount];
        Array.Fill(rise, -1);
        var raise = ClosureRaise(g, finish);
        if (raise is null)
        {
            Array.Fill(rise, Unbounded);
            return rise;
        }

        long below = 0;
        foreach (var r in g.CallReturns)
        {
            below = Math.Max(below, raise[r]);
        }

        var pops = CanPop(g, finish);
        for (var s = 0; s < g.StateCount; s++)
        {
            if (finish[s] >= Unbounded)
            {
                continue; // never part of a configuration the budget lets through
            }

            for (var k = 0; k < g.ClassCount; k++)
            {
                var to = g.Next[(s * g.ClassCount) + k];
                if (to >= 0)
                {
                    var r = finish[to] >= Unbounded ? Unbounded : finish[to] - finish[s] + (pops[to] ? Math.Max(raise[to], below) : raise[to]);
                    rise[k] = Math.Max(rise[k], Math.Min(r, Unbounded));
                }
            }
        }

        return rise;
    }

    /// <summary>Per state, whether its closure can pop its frame: it accepts, or calls a rule that can end at once and returns to such a state.</summary>
    private static bool[] CanPop(CompiledGrammar g, int[] finish)
    {
        var pops = new bool[g.StateCount];
        for (var s = 0; s < g.StateCount; s++)
        {
            pops[s] = (g.Flags[s] & CompiledGrammar.FlagAccept) != 0;
        }

        for (var changed = true; changed;)
        {
            changed = false;
            for (var s = 0; s < g.StateCount; s++)
            {
                for (var k = g.CallOffsets[s]; k < g.CallOffsets[s + 1] && !pops[s]; k++)
                {
                    if (finish[g.CallStarts[k]] == 0 && pops[g.CallReturns[k]])
                    {
                        pops[s] = changed = true;
                    }
                }
            }
        }

        return pops;
    }

    /// <summary>
    /// Per state, the most its closure can raise a configuration's bound without popping its frame:
    /// raise[s] = max over s's calls of (the callee's start value and raise, plus the return
    /// state's value) or (the return state's value and raise, when the callee ends at once), less
    /// s's value. Solved by passes to a fixed point; null when it keeps growing or a call cannot be completed.
    /// </summary>
    private static long[]? ClosureRaise(CompiledGrammar g, int[] finish)
    {
        var raise = new long[g.StateCount];
        for (var pass = 0; pass < 64; pass++)
        {
            var changed = false;
            for (var s = 0; s < g.StateCount; s++)
            {
                for (var k = g.CallOffsets[s]; k < g.CallOffsets[s + 1]; k++)
                {
                    var (start, ret) = (g.CallStarts[k], g.CallReturns[k]);
                    if (finish[s] >= Unbounded)
                    {
                        break;
                    }

                    if (finish[start] >= Unbounded || finish[ret] >= Unbounded)
                    {
                        return null;
                    }

                    var viaCallee = finish[start] + raise[start] + finish[ret];
                    var viaReturn = finish[ret] + raise[ret];
                    var r = Math.Max(viaCallee, viaReturn) - finish[s];
                    if (r > raise[s])
                    {
                        raise[s] = r;
                        changed = true;
                    }
                }
            }

            if (!changed)
            {
                return raise;
            }
        }

        return null;
    }
}
