using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// Determinizes each rule of a <see cref="GrammarBuilder"/> network (subset construction over byte
/// classes and call symbols), drops rules that accept nothing and states that cannot finish, refuses
/// left recursion, and lays the result out as a <see cref="CompiledGrammar"/>. Its loops, and the
/// builder's and automata's that a compile runs hundreds of thousands of times, are jitted fully
/// optimized at once (<see cref="MethodImplOptions.AggressiveOptimization"/>): a compile runs them
/// within its first call, where tiered compilation would leave them tier-0 code for the whole of it
/// (a 2,000-property compile in a fresh process took about 1.5 times as long).
/// </summary>
internal static partial class GrammarCompiler
{
    public const int MaxStates = 1_000_000;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static CompiledGrammar Compile(ByteNfa nfa, IReadOnlyList<(int Start, int End, string Pointer)> rules)
    {
        var budget = nfa.Budget;
        var (classOf, classCount) = ByteClasses(nfa);
        var bySeed = new SingleSeeds(nfa.StateCount);
        var dfas = rules.Select(r => Determinize(nfa, r.Start, r.End, classOf, classCount, bySeed)).ToList();
        RefuseLeftRecursion(dfas, rules);

        // Productive rules: some path start -> accept using bytes and calls of productive rules. Rules
        // are tried last first (a rule's callees usually come after it), each by a search from its start
        // that stops at the first accepting state: the whole of Live for every rule and pass was
        // several percent of a mid-sized compile, and only the start's answer was read.
        var productive = new bool[rules.Count];
        var search = new DfaSearch(dfas.Max(d => d.Count));
        for (var changed = true; changed;)
        {
            changed = false;
            for (var r = rules.Count - 1; r >= 0; r--)
            {
                budget.Tick();
                if (!productive[r] && search.CanFinish(dfas[r], productive))
                {
                    productive[r] = changed = true;
                }
            }
        }

        if (!productive[0])
        {
            throw new SchemaCompileException("(schema)", rules[0].Pointer, "the schema accepts no JSON value");
        }

        // Keep states reachable from the start and able to reach an accepting state.
        var offsets = new int[rules.Count];
        var maps = new int[rules.Count][];
        var total = 0;
        for (var r = 0; r < rules.Count; r++)
        {
            budget.Tick();
            offsets[r] = total;
            maps[r] = new int[dfas[r].Count];
            if (!productive[r])
            {
                maps[r].AsSpan().Fill(-1); // never productive: none of its states is kept
                continue;
            }

            var co = Live(dfas[r], productive);
            var reach = search.Reachable(dfas[r], productive, co);
            for (var s = 0; s < co.Length; s++)
            {
                maps[r][s] = co[s] && reach[s] ? total++ : -1;
            }
        }

        if (total > MaxStates)
        {
            throw new SchemaCompileException("(schema)", rules[0].Pointer, $"the grammar needs more than {MaxStates} states");
        }

        // Not zeroed first: every entry is written here (the table of a big schema is tens of MB),
        // row by row (every state below total has one), so a row is filled while it is in the cache.
        var next = GC.AllocateUninitializedArray<int>(total * classCount);
        var flags = new byte[total];
        var callOffsets = new int[total + 1];
        var callStarts = new List<int>();
        var callReturns = new List<int>();
        for (var r = 0; r < rules.Count; r++)
        {
            for (var s = 0; s < maps[r].Length; s++)
            {
                var g = maps[r][s];
                if (g < 0)
                {
                    continue;
                }

                var row = next.AsSpan(g * classCount, classCount);
                row.Fill(-1);
                var runs = dfas[r].Runs(s);
                for (var k = 0; k < runs.Length; k += 3)
                {
                    var t = maps[r][runs[k + 2]];
                    if (t >= 0)
                    {
                        row.Slice(runs[k], runs[k + 1]).Fill(t);
                        flags[g] |= CompiledGrammar.FlagBytes;
                    }
                }

                if (dfas[r].Accept[s])
                {
                    flags[g] |= CompiledGrammar.FlagAccept;
                }

                callOffsets[g] = callStarts.Count;
                foreach (var (callee, target) in dfas[r].Calls[s])
                {
                    if (productive[callee] && maps[r][target] >= 0)
                    {
                        callStarts.Add(maps[callee][0]);
                        callReturns.Add(maps[r][target]);
                        flags[g] |= CompiledGrammar.FlagCalls;
                    }
                }

                callOffsets[g + 1] = callStarts.Count;
            }
        }

        return new CompiledGrammar(classOf, classCount, next, flags, callOffsets, [.. callStarts], [.. callReturns], maps[0][0]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (byte[] ClassOf, int Count) ByteClasses(ByteNfa nfa)
    {
        var boundary = new bool[257];
        boundary[0] = true;
        for (var s = 0; s < nfa.StateCount; s++)
        {
            foreach (var e in nfa.BytesOf(s))
            {
                boundary[e.Lo] = true;
                boundary[e.Hi + 1] = true;
            }
        }

        var classOf = new byte[256];
        var id = -1;
        for (var b = 0; b < 256; b++)
        {
            if (boundary[b])
            {
                id++;
            }

            classOf[b] = (byte)id;
        }

        return (classOf, id + 1);
    }

    /// <summary>
    /// Depth-first searches of a rule from its start over byte moves and calls of productive rules,
    /// with a stamp per search: whether an accepting state is reached (stopping at the first), or
    /// which live states are.
    /// </summary>
    private sealed class DfaSearch(int states)
    {
        private readonly int[] _seen = new int[states];
        private readonly Stack<int> _pending = new();
        private int _stamp;

        public bool CanFinish(RuleDfa dfa, bool[] productive) => Walk(dfa, productive, null, null);

        /// <summary>The states reachable from the start through states of <paramref name="live"/>.</summary>
        public bool[] Reachable(RuleDfa dfa, bool[] productive, bool[] live)
        {
            var reached = new bool[dfa.Count];
            Walk(dfa, productive, live, reached);
            return reached;
        }

        /// <summary>With <paramref name="reached"/>, marks every state met; without, stops at the first accepting one.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private bool Walk(RuleDfa dfa, bool[] productive, bool[]? live, bool[]? reached)
        {
            var stamp = ++_stamp;
            _pending.Clear();
            Visit(0);
            while (_pending.TryPop(out var s))
            {
                if (reached is not null)
                {
                    reached[s] = true;
                }
                else if (dfa.Accept[s])
                {
                    return true;
                }

                var runs = dfa.Runs(s);
                for (var k = 2; k < runs.Length; k += 3)
                {
                    Visit(runs[k]);
                }

                foreach (var (rule, target) in dfa.Calls[s])
                {
                    if (productive[rule])
                    {
                        Visit(target);
                    }
                }
            }

            return false;

            void Visit(int t)
            {
                if (_seen[t] != stamp && (live is null || live[t]))
                {
                    _seen[t] = stamp;
                    _pending.Push(t);
                }
            }
        }
    }

    /// <summary>States from which an accepting state is reachable (bytes and productive calls).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool[] Live(RuleDfa dfa, bool[] productive)
    {
        var n = dfa.Count;
        var live = new bool[n];
        for (var s = 0; s < n; s++)
        {
            live[s] = dfa.Accept[s];
        }

        for (var changed = true; changed;)
        {
            changed = false;
            for (var s = n - 1; s >= 0; s--)
            {
                if (live[s])
                {
                    continue;
                }

                // Loops, not LINQ: two delegates per state per pass added up on automata of 50,000 states.
                var reaches = false;
                var runs = dfa.Runs(s);
                for (var k = 2; k < runs.Length; k += 3)
                {
                    reaches |= live[runs[k]];
                }

                foreach (var (rule, target) in dfa.Calls[s])
                {
                    reaches |= productive[rule] && live[target];
                }

                if (reaches)
                {
                    live[s] = changed = true;
                }
            }
        }

        return live;
    }

    private static void RefuseLeftRecursion(List<RuleDfa> dfas, IReadOnlyList<(int Start, int End, string Pointer)> rules)
    {
        // A rule that calls itself (directly or not) before reading any byte would push forever.
        // Depth-first with an explicit stack: a chain of references is as long as the schema says.
        // The longest chain of rules that start with one another is bounded too: matching walks it
        // recursively (calls pushed, and tail calls popped, without a byte between).
        var state = new int[dfas.Count]; // 0 new, 1 on stack, 2 done
        var chain = new int[dfas.Count]; // rules in the longest start-call chain from each done rule
        var stack = new Stack<(int Rule, int Next)>();
        for (var root = 0; root < dfas.Count; root++)
        {
            if (state[root] != 0)
            {
                continue;
            }

            state[root] = 1;
            stack.Push((root, 0));
            while (stack.TryPop(out var top))
            {
                var calls = dfas[top.Rule].Calls[0];
                if (top.Next == calls.Count)
                {
                    state[top.Rule] = 2;
                    chain[top.Rule] = 1 + calls.Select(c => chain[c.Rule]).DefaultIfEmpty(0).Max();
                    if (chain[top.Rule] > NestingGuard.MaxDepth)
                    {
                        throw new SchemaCompileException("$ref", rules[top.Rule].Pointer,
                            $"references nest deeper than the limit of {NestingGuard.MaxDepth} levels (rules that each start with the next)");
                    }

                    continue;
                }

                stack.Push((top.Rule, top.Next + 1));
                var callee = calls[top.Next].Rule;
                if (state[callee] == 1)
                {
                    throw new SchemaCompileException("$ref", rules[callee].Pointer, "the reference is left-recursive (it can recur without reading any input)");
                }

                if (state[callee] == 0)
                {
                    state[callee] = 1;
                    stack.Push((callee, 0));
                }
            }
        }
    }
}
