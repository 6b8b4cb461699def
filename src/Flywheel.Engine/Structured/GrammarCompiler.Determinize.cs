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
        // Edges in classes, inclusive, chained by the class where each starts and the one after it ends.
        var edges = new List<(int Lo, int Hi, int Target)>();
        var startsAt = new int[classCount + 1];
        var endsAt = new int[classCount + 1];
        var nextStart = new List<int>();
        var nextEnd = new List<int>();
        var active = new List<int>();   // targets of the edges covering the current class (a multiset)
        var targets = new HashSet<int>();
        for (var i = 0; i < dfa.Sets.Count; i++)
        {
            edges.Clear();
            nextStart.Clear();
            nextEnd.Clear();
            Array.Fill(startsAt, -1);
            Array.Fill(endsAt, -1);
            SortedDictionary<int, List<int>>? calls = null; // most states call nothing
            foreach (var s in dfa.Sets[i])
            {
                foreach (var e in nfa.BytesOf(s))
                {
                    int lo = classOf[e.Lo], after = classOf[e.Hi] + 1, k = edges.Count;
                    edges.Add((lo, after - 1, e.Target));
                    nextStart.Add(startsAt[lo]);
                    startsAt[lo] = k;
                    nextEnd.Add(endsAt[after]);
                    endsAt[after] = k;
                }

                foreach (var call in nfa.CallsOf(s))
                {
                    calls ??= [];
                    (calls.TryGetValue(call.Rule, out var list) ? list : calls[call.Rule] = []).Add(call.Target);
                }
            }

            // Sweep the classes: between two edge boundaries the targets stay the same, so one
            // closure per run of classes, not per class.
            var row = new int[classCount];
            targets.Clear();
            active.Clear();
            var current = -1;
            for (var c = 0; c < classCount; c++)
            {
                if (startsAt[c] >= 0 || endsAt[c] >= 0)
                {
                    for (var k = endsAt[c]; k >= 0; k = nextEnd[k])
                    {
                        active.Remove(edges[k].Target);
                    }

                    for (var k = startsAt[c]; k >= 0; k = nextStart[k])
                    {
                        active.Add(edges[k].Target);
                    }

                    current = active.Count == 0 ? -1 : FromSeeds(active);
                    if (current >= 0)
                    {
                        targets.Add(current);
                    }
                }

                row[c] = current;
            }

            dfa.Next.Add(row);
            dfa.Targets.Add([.. targets]);
            dfa.Calls.Add(calls is null ? [] : [.. calls.Select(kv => (kv.Key, Intern(nfa.ActiveClosure(kv.Value, end))))]);
        }

        return dfa;
    }

    /// <summary>Structural equality for the sorted state sets that name DFA states.</summary>
    private sealed class IntArrayComparer : IEqualityComparer<int[]>
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
