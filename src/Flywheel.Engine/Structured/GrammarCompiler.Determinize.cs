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

        // Per state, one closure per elementary run of classes between its edges' range boundaries
        // (EdgeRuns). (Sweeping a multiset of active targets cost a linear removal per edge: quadratic
        // for a state with thousands of edges, e.g. an object whose thousands of optional properties can
        // all come next.)
        var edges = new EdgeRuns(classCount);
        var targets = new HashSet<int>();
        for (var i = 0; i < dfa.Sets.Count; i++)
        {
            nfa.Budget.Tick();
            edges.Clear();
            SortedDictionary<int, List<int>>? calls = null; // most states call nothing
            foreach (var s in dfa.Sets[i])
            {
                foreach (var e in nfa.BytesOf(s))
                {
                    edges.Add(classOf[e.Lo], classOf[e.Hi], e.Target);
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
            foreach (var (first, length, seeds) in edges.Runs())
            {
                var target = FromSeeds(seeds);
                targets.Add(target);
                Array.Fill(row, target, first, length);
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
