using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Flywheel.Structured;

/// <summary>Subset construction of one rule over byte classes and call symbols.</summary>
internal static partial class GrammarCompiler
{
    private sealed class RuleDfa(int width)
    {
        // Each state's row as runs (first symbol, length, local target): a state has a handful of
        // targets, and a dense row of every byte class (66 for a 2,000-property object) was 49 MB
        // there, next to the grammar's own table of the same size. Rows are written in state order,
        // each into one chunk; chunks are never copied on growth. Chunks double from small up to
        // ChunkInts: most rules have tens of states, and a full chunk (a 256 KB large object) for each
        // rule was most of what a mid-sized schema's compile allocated, and of its collections.
        private const int FirstChunkInts = 1 << 8, ChunkInts = 1 << 16;
        private readonly List<int[]> _chunks = [];
        private readonly List<(int Chunk, int Start, int Length)> _rows = [];
        private int _used;                                      // ints used in the last chunk
        private int[] _current = [];                           // the last chunk
        private int _rowStart;

        public int Count => Accept.Count;

        public List<List<(int Rule, int Target)>> Calls { get; } = [];
        public List<bool> Accept { get; } = [];

        /// <summary>The runs of <paramref name="state"/>: triples of first symbol, length, target.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public ReadOnlySpan<int> Runs(int state)
        {
            var (chunk, start, length) = _rows[state];
            return _chunks[chunk].AsSpan(start, length);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void AddState(bool accept) => Accept.Add(accept);

        /// <summary>Starts the row of the next state in order (state <c>_rows.Count</c>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void BeginRow()
        {
            if (_used + (3 * width) > _current.Length)
            {
                // A row has at most width runs: it always fits in what is left of a fresh chunk.
                _current = new int[Math.Max(Math.Clamp(_current.Length * 2, FirstChunkInts, ChunkInts), 3 * width)];
                _chunks.Add(_current);
                _used = 0;
            }

            _rowStart = _used;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void AddRun(int first, int length, int target)
        {
            var chunk = _current;
            chunk[_used++] = first;
            chunk[_used++] = length;
            chunk[_used++] = target;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void EndRow() => _rows.Add((_chunks.Count - 1, _rowStart, _used - _rowStart));
    }

    /// <summary>
    /// Per NFA state, the determinized state of its closure alone in the rule being determinized: the
    /// most common lookup of a subset construction (an edge whose symbols no other edge shares), an
    /// array index rather than a dictionary hit. One pair of arrays for all the rules of a grammar,
    /// told apart by a generation, so a schema of many small rules does not pay an array per rule.
    /// </summary>
    private sealed class SingleSeeds(int nfaStates)
    {
        private readonly int[] _generation = new int[nfaStates];
        private readonly int[] _state = new int[nfaStates];
        private int _current;

        public void NextRule() => _current++;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool TryGet(int seed, out int state)
        {
            state = _generation[seed] == _current ? _state[seed] : -1;
            return state >= 0;
        }

        public void Set(int seed, int state)
        {
            _generation[seed] = _current;
            _state[seed] = state;
        }
    }

    private static bool IsAscending(ReadOnlySpan<long> runs)
    {
        for (var k = 1; k < runs.Length; k++)
        {
            if (runs[k] < runs[k - 1])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether no two of the packed runs (in class order) share a class.</summary>
    private static bool AreDisjoint(ReadOnlySpan<long> runs)
    {
        var next = 0; // the first class after the runs so far
        foreach (var run in runs)
        {
            var first = (int)(run >> 41);
            if (first < next)
            {
                return false;
            }

            next = first + ((int)(run >> 32) & 0x1FF);
        }

        return true;
    }

    /// <summary>The calls of the many states that call nothing (one shared list; never modified).</summary>
    private static readonly List<(int Rule, int Target)> NoCalls = [];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static RuleDfa Determinize(ByteNfa nfa, int start, int end, byte[] classOf, int classCount, SingleSeeds bySeed)
    {
        bySeed.NextRule();
        var dfa = new RuleDfa(classCount);
        var sets = new StateSetTable();       // state id -> the NFA states naming it
        var bySeeds = new StateSetTable();    // distinct seeds -> seedTargets[id], the state of their closure
        var seedTargets = new List<int>();
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        int Intern(ReadOnlySpan<int> set)
        {
            var id = sets.GetOrAdd(set, out var added);
            if (added)
            {
                if (id > MaxStates)
                {
                    throw new SchemaCompileException("(schema)", "#", $"the grammar needs more than {MaxStates} states");
                }

                nfa.Budget.AddState(set.Length);
                dfa.AddState(set.BinarySearch(end) >= 0);
            }

            return id;
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        int FromSeed(int seed)
        {
            if (!bySeed.TryGet(seed, out var single))
            {
                single = Intern(nfa.ScratchClosure([seed], end, activeOnly: true));
                bySeed.Set(seed, single);
            }

            return single;
        }

        var key = new List<int>();
        int FromSeeds(List<int> seeds)
        {
            var first = seeds[0];
            var alike = true;
            foreach (var t in seeds)
            {
                alike &= t == first;
            }

            if (alike)
            {
                return FromSeed(first); // one seed, maybe repeated (no delegate, no closure per call)
            }

            key.Clear();
            key.AddRange(CollectionsMarshal.AsSpan(seeds));
            var span = CollectionsMarshal.AsSpan(key);
            span.Sort();
            var distinct = 1;
            for (var k = 1; k < span.Length; k++)
            {
                if (span[k] != span[distinct - 1])
                {
                    span[distinct++] = span[k];
                }
            }

            var id = bySeeds.GetOrAdd(span[..distinct], out var added);
            if (added)
            {
                seedTargets.Add(Intern(nfa.ScratchClosure(span[..distinct], end, activeOnly: true)));
            }

            return seedTargets[id];
        }

        Intern(nfa.ScratchClosure([start], end, activeOnly: true));

        // Per state, one closure per elementary run of classes between its edges' range boundaries
        // (EdgeRuns). (Sweeping a multiset of active targets cost a linear removal per edge: quadratic
        // for a state with thousands of edges, e.g. an object whose thousands of optional properties can
        // all come next.)
        var edges = new EdgeRuns(classCount);
        var disjoint = new List<long>();
        var calls = new List<long>(); // (rule, return target) packed, for grouping by rule
        var returns = new List<int>();
        for (var i = 0; i < dfa.Count; i++)
        {
            nfa.Budget.Tick();
            calls.Clear();
            foreach (var s in sets[i])
            {
                foreach (var call in nfa.CallsOf(s))
                {
                    calls.Add(((long)call.Rule << 32) | (uint)call.Target);
                }
            }

            // The byte edges as (first class, classes, target) packed in a long, in class order.
            // Where no two of them share a class (a string's characters, a literal, a whitespace run
            // next to the token after it: most states), each edge's target alone is the seed of its
            // classes, with no grouping of edges into runs (EdgeRuns: a dictionary hit per edge and a
            // scan of the ranges per run, which was most of the cost per state). New states are
            // numbered in class order either way.
            disjoint.Clear();
            foreach (var s in sets[i])
            {
                foreach (var e in nfa.BytesOf(s))
                {
                    int lo = classOf[e.Lo], hi = classOf[e.Hi];
                    disjoint.Add(((long)lo << 41) | ((long)(hi - lo + 1) << 32) | (uint)e.Target);
                }
            }

            var runs = CollectionsMarshal.AsSpan(disjoint);
            if (!IsAscending(runs))
            {
                runs.Sort();
            }

            dfa.BeginRow();
            if (AreDisjoint(runs))
            {
                foreach (var run in runs)
                {
                    dfa.AddRun((int)(run >> 41), (int)(run >> 32) & 0x1FF, FromSeed((int)(uint)run));
                }
            }
            else
            {
                edges.Clear();
                foreach (var s in sets[i])
                {
                    foreach (var e in nfa.BytesOf(s))
                    {
                        edges.Add(classOf[e.Lo], classOf[e.Hi], e.Target);
                    }
                }

                foreach (var (first, length, seeds) in edges.Runs())
                {
                    var target = FromSeeds(seeds);
                    dfa.AddRun(first, length, target);
                }
            }

            dfa.EndRow();
            if (calls.Count == 0)
            {
                dfa.Calls.Add(NoCalls); // most states call nothing
                continue;
            }

            // One call per rule, in rule order, returning to the closure of all its return targets
            // (sorted packed pairs, not a sorted dictionary of lists per state).
            var packed = CollectionsMarshal.AsSpan(calls);
            packed.Sort();
            var called = new List<(int Rule, int Target)>();
            for (var k = 0; k < packed.Length;)
            {
                var rule = (int)(packed[k] >> 32);
                returns.Clear();
                for (; k < packed.Length && (int)(packed[k] >> 32) == rule; k++)
                {
                    returns.Add((int)(uint)packed[k]);
                }

                called.Add((rule, Intern(nfa.ScratchClosure(CollectionsMarshal.AsSpan(returns), end, activeOnly: true))));
            }

            dfa.Calls.Add(called);
        }

        return dfa;
    }
}
