namespace Flywheel.Structured;

/// <summary>Subset construction of one rule over byte classes and call symbols.</summary>
internal static partial class GrammarCompiler
{
    private sealed class RuleDfa
    {
        public List<int[]> Sets { get; } = [];
        public List<int[]> Next { get; } = [];                 // per state: [classCount], local target or -1
        public List<int[]> Targets { get; } = [];              // per state: the distinct byte targets of Next
        public List<List<(int Rule, int Target)>> Calls { get; } = [];
        public List<bool> Accept { get; } = [];
    }

    private static RuleDfa Determinize(ByteNfa nfa, int start, int end, byte[] classOf, int classCount)
    {
        var dfa = new RuleDfa();
        var ids = new Dictionary<int[], int>(IntArrayComparer.Instance);
        var bySeeds = new Dictionary<int[], int>(IntArrayComparer.Instance); // seeds -> state of their closure
        int Intern(int[] set)
        {
            if (!ids.TryGetValue(set, out var id))
            {
                id = dfa.Sets.Count;
                if (id > MaxStates)
                {
                    throw new SchemaCompileException("(schema)", "#", $"the grammar needs more than {MaxStates} states");
                }

                nfa.Budget.AddState(set.Length);
                ids[set] = id;
                dfa.Sets.Add(set);
                dfa.Accept.Add(Array.BinarySearch(set, end) >= 0);
            }

            return id;
        }

        var bySeed = new Dictionary<int, int>(); // the common case: one seed
        int FromSeeds(List<int> seeds)
        {
            if (seeds.Count == 1 || seeds.TrueForAll(t => t == seeds[0]))
            {
                if (!bySeed.TryGetValue(seeds[0], out var single))
                {
                    single = Intern(nfa.ActiveClosure([seeds[0]], end));
                    bySeed[seeds[0]] = single;
                }

                return single;
            }

            var key = seeds.ToArray();
            Array.Sort(key);
            var distinct = 1;
            for (var k = 1; k < key.Length; k++)
            {
                if (key[k] != key[distinct - 1])
                {
                    key[distinct++] = key[k];
                }
            }

            key = distinct == key.Length ? key : key[..distinct];
            if (!bySeeds.TryGetValue(key, out var id))
            {
                id = Intern(nfa.ActiveClosure(key, end));
                bySeeds[key] = id;
            }

            return id;
        }

        Intern(nfa.ActiveClosure([start], end));

        // Per state, edges grouped by their class range, then one closure per elementary run of
        // classes between range boundaries. (Sweeping a multiset of active targets cost a linear
        // removal per edge: quadratic for a state with thousands of edges, e.g. an object whose
        // thousands of optional properties can all come next.)
        var byRange = new Dictionary<(int Lo, int Hi), List<int>>();
        var used = new List<((int Lo, int Hi) Range, List<int> Targets)>(); // the ranges this state's edges use
        var isCut = new bool[classCount + 1];
        var seeds = new List<int>();
        var targets = new HashSet<int>();
        for (var i = 0; i < dfa.Sets.Count; i++)
        {
            nfa.Budget.Tick();
            foreach (var (_, list) in used)
            {
                list.Clear();
            }

            used.Clear();
            Array.Clear(isCut);
            SortedDictionary<int, List<int>>? calls = null; // most states call nothing
            (int Lo, int Hi) lastRange = (-1, -1);
            List<int>? last = null;
            foreach (var s in dfa.Sets[i])
            {
                foreach (var e in nfa.BytesOf(s))
                {
                    var range = (Lo: (int)classOf[e.Lo], Hi: (int)classOf[e.Hi]);
                    if (last is null || range != lastRange)
                    {
                        if (!byRange.TryGetValue(range, out last))
                        {
                            byRange[range] = last = [];
                        }

                        if (last.Count == 0)
                        {
                            used.Add((range, last));
                            isCut[range.Lo] = isCut[range.Hi + 1] = true;
                        }

                        lastRange = range;
                    }

                    last.Add(e.Target);
                }

                foreach (var call in nfa.CallsOf(s))
                {
                    calls ??= [];
                    (calls.TryGetValue(call.Rule, out var list) ? list : calls[call.Rule] = []).Add(call.Target);
                }
            }

            var row = new int[classCount];
            Array.Fill(row, -1);
            targets.Clear();
            var runStart = -1;
            for (var cut = 0; cut <= classCount; cut++)
            {
                if (!isCut[cut])
                {
                    continue;
                }

                if (runStart >= 0)
                {
                    seeds.Clear();
                    foreach (var ((lo, hi), list) in used)
                    {
                        if (lo <= runStart && hi >= cut - 1)
                        {
                            seeds.AddRange(list);
                        }
                    }

                    if (seeds.Count > 0)
                    {
                        var target = FromSeeds(seeds);
                        targets.Add(target);
                        Array.Fill(row, target, runStart, cut - runStart);
                    }
                }

                runStart = cut;
            }

            dfa.Next.Add(row);
            dfa.Targets.Add([.. targets]);
            dfa.Calls.Add(calls is null ? [] : [.. calls.Select(kv => (kv.Key, Intern(nfa.ActiveClosure(kv.Value, end))))]);
        }

        return dfa;
    }

    /// <summary>Structural equality for the sorted state sets that name DFA states.</summary>
    internal sealed class IntArrayComparer : IEqualityComparer<int[]>
    {
        public static readonly IntArrayComparer Instance = new();

        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(int[] obj)
        {
            var h = new HashCode();
            h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(obj.AsSpan()));
            return h.ToHashCode();
        }
    }
}
