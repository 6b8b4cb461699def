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
internal sealed partial class GrammarBudget
{
    /// <summary>A state no run of single-byte tokens completes (or a slack that cannot be bounded).</summary>
    public const int Unbounded = int.MaxValue / 4;

    private GrammarBudget(int[] finish, int minimum, int[] tokenRise)
    {
        Finish = finish;
        Minimum = minimum;
        TokenRise = tokenRise;
        TokenSlack = tokenRise.Length == 0 ? 0 : Math.Max(0, tokenRise.Max());
        WordRise = WordRiseOf(tokenRise);
        ClampedRise = ClampedRiseOf(tokenRise);
    }

    /// <summary>[StateCount]: fewest single-byte tokens from the state to the end of its rule, or <see cref="Unbounded"/>.</summary>
    public int[] Finish { get; }

    /// <summary>Fewest tokens of a complete document from the start (<see cref="Unbounded"/> when none is made of single-byte tokens).</summary>
    public int Minimum { get; }

    /// <summary>[vocabulary Count]: most each token can add to a configuration's bound (<see cref="Unbounded"/>: no bound).</summary>
    public int[] TokenRise { get; }

    /// <summary>Most any one token can add to a configuration's bound, or <see cref="Unbounded"/>.</summary>
    public int TokenSlack { get; }

    /// <summary>
    /// [mask words * 32]: <see cref="TokenRise"/> clamped to [<see cref="ClampLow"/>, <see cref="ClampLow"/> + 255]
    /// less <see cref="ClampLow"/>, one byte per token (0 past the vocabulary): for a room r with
    /// <see cref="ClampLow"/> &lt;= r &lt; <see cref="ClampLow"/> + 255, rise &gt; r exactly when this byte
    /// exceeds r - <see cref="ClampLow"/>, so 32 tokens are compared at once (see GrammarMatcher.BudgetMask.cs).
    /// </summary>
    public byte[] ClampedRise { get; }

    /// <summary>[mask words]: the largest <see cref="TokenRise"/> of the 32 tokens of each mask word (<see cref="NoToken"/> for none).</summary>
    public int[] WordRise { get; }

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
}
