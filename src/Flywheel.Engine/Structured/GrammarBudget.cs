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

    private GrammarBudget(int[] finish, int minimum, int slack)
    {
        Finish = finish;
        Minimum = minimum;
        TokenSlack = slack;
    }

    /// <summary>[StateCount]: fewest single-byte tokens from the state to the end of its rule, or <see cref="Unbounded"/>.</summary>
    public int[] Finish { get; }

    /// <summary>Fewest tokens of a complete document from the start (<see cref="Unbounded"/> when none is made of single-byte tokens).</summary>
    public int Minimum { get; }

    /// <summary>Most one token can add to a configuration's bound, or <see cref="Unbounded"/>.</summary>
    public int TokenSlack { get; }

    private int[]? _textRegionFinish;

    /// <summary>
    /// The largest <see cref="Finish"/> over the plain states that runs of <paramref name="state"/>'s
    /// text groups (<see cref="CompiledGrammar.TextGroupsOf"/>) reach from it, <paramref name="state"/>
    /// included; -1 when it has none. A text token made of those groups only leaves a configuration
    /// at one of those states on the same stack, so its bound after is at most this plus the stack's.
    /// Worked out per state on first use (racing threads work out the same number).
    /// </summary>
    public int TextRegionFinish(CompiledGrammar g, int state)
    {
        var known = _textRegionFinish ??= NewUnknown(g.StateCount);
        if (known[state] != int.MinValue)
        {
            return known[state];
        }

        var groups = g.Flags[state] == CompiledGrammar.FlagBytes ? g.TextGroupsOf(state) : 0;
        var max = -1;
        if (groups != 0)
        {
            // Over every byte that can be part of a run of those groups (any byte from 0x80 when
            // multi-byte characters are among them): more states than the runs reach, never fewer.
            var bytes = Enumerable.Range(0, 256).Where(b => b < 0x80
                ? (ByteGroups.OfAscii((byte)b) & groups) != 0
                : (groups & ByteGroups.MultiByteChar) != 0).Select(b => (byte)b).ToArray();
            var seen = new HashSet<int> { state };
            var pending = new Stack<int>();
            pending.Push(state);
            while (pending.TryPop(out var s))
            {
                max = Math.Max(max, Finish[s]);
                foreach (var b in bytes)
                {
                    var to = g.Move(s, b);
                    if (to >= 0 && g.Flags[to] == CompiledGrammar.FlagBytes && seen.Add(to))
                    {
                        pending.Push(to);
                    }
                }
            }
        }

        known[state] = max;
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
        return new GrammarBudget(finish, finish[g.RootStart], Slack(g, finish, trie.MaxDepth));
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
    /// A bound on how much one token of at most <paramref name="maxTokenBytes"/> bytes can raise a
    /// configuration's bound: per byte, the most a move raises its state's value plus the most the
    /// closure after it can add by calling (popping never adds: an accepting state's value is 0).
    /// </summary>
    private static int Slack(CompiledGrammar g, int[] finish, int maxTokenBytes)
    {
        long move = 0;
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
                    if (finish[to] >= Unbounded)
                    {
                        return Unbounded;
                    }

                    move = Math.Max(move, finish[to] - finish[s]);
                }
            }
        }

        var closure = ClosureRaise(g, finish);
        var perByte = move + closure;
        return perByte * maxTokenBytes >= Unbounded ? Unbounded : (int)(perByte * maxTokenBytes);
    }

    /// <summary>
    /// The most a closure can raise a configuration's bound without popping its frame, over all
    /// states: raise[s] = max over s's calls of (the callee's start value and raise, plus the return
    /// state's value) or (the return state's value and raise, when the callee ends at once), less
    /// s's value. Solved by passes to a fixed point; a bound that keeps growing is unbounded.
    /// </summary>
    private static long ClosureRaise(CompiledGrammar g, int[] finish)
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
                        return Unbounded;
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
                return raise.Length == 0 ? 0 : raise.Max();
            }
        }

        return Unbounded;
    }
}
