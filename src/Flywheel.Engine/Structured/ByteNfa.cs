using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Flywheel.Structured;

/// <summary>
/// A nondeterministic automaton over bytes under construction. Edges are byte ranges, epsilons, or
/// calls of another grammar rule (a recursive transition network: a call consumes one whole
/// instance of the callee rule, then continues at the edge's target). Plain regular languages
/// (regexes, formats) use no call edges. Not thread-safe: closures reuse scratch storage.
/// </summary>
internal sealed class ByteNfa
{
    /// <summary>Upper bound on states; keeps pathological schemas from eating the server's memory.</summary>
    public const int MaxStates = 2_000_000;

    // Edges as logs in the order they were added, laid out by state (Frozen) when first read. A list
    // per state and kind (three objects and their arrays for each of 200,000 states of a big object)
    // was most of the automaton's memory and a good part of building it.
    private readonly EdgeLog<ByteEdge> _bytes = new();
    private readonly EdgeLog<int> _eps = new();
    private readonly EdgeLog<CallEdge> _calls = new();
    private int _stateCount;
    private readonly List<int> _closure = [];
    private int _depth;
    private int[] _pending = new int[64]; // the closure walk's stack (Stack<int>'s Push and Pop were calls of their own in profiles)
    private int[] _visited = [];
    private int _visitStamp;

    /// <param name="budget">What building and determinizing this automaton may spend (default: unlimited).</param>
    public ByteNfa(CompileBudget? budget = null) => Budget = budget ?? CompileBudget.Unlimited;

    /// <summary>The compile's budget: states added here count against it, and so does work on this automaton.</summary>
    public CompileBudget Budget { get; }

    public int StateCount => _stateCount;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int AddState()
    {
        if (_stateCount >= MaxStates)
        {
            throw new SchemaCompileException("(schema)", "#", $"the grammar needs more than {MaxStates} automaton states");
        }

        Budget.AddNfaState();
        return _stateCount++;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddBytes(int from, byte lo, byte hi, int to) => _bytes.Add(from, new ByteEdge(lo, hi, to));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddEps(int from, int to) => _eps.Add(from, to);

    public void AddCall(int from, int rule, int to) => _calls.Add(from, new CallEdge(rule, to));

    // Spans, not IReadOnlyList: determinization walks the edges of every member of every state set,
    // and an interface enumerator per walk was millions of allocations on a hostile schema.
    public ReadOnlySpan<ByteEdge> BytesOf(int state) => _bytes.Of(state, _stateCount);

    public ReadOnlySpan<int> EpsOf(int state) => _eps.Of(state, _stateCount);

    public ReadOnlySpan<CallEdge> CallsOf(int state) => _calls.Of(state, _stateCount);

    /// <summary>Where construction stands: states and edges of each kind made so far.</summary>
    public NfaMark Mark() => new(_stateCount, _bytes.Count, _eps.Count, _calls.Count);

    /// <summary>
    /// Forgets every state and edge made since <paramref name="mark"/>. Only for a fragment nothing
    /// else refers to (no rule, no edge from an older state): its states are numbered again.
    /// </summary>
    public void Rollback(NfaMark mark)
    {
        _stateCount = mark.States;
        _bytes.Truncate(mark.Bytes);
        _eps.Truncate(mark.Eps);
        _calls.Truncate(mark.Calls);
    }

    /// <summary>
    /// Whether what was made in [<paramref name="a"/>, <paramref name="aEnd"/>) is what was made in
    /// [<paramref name="b"/>, <paramref name="bEnd"/>) with its states renumbered by the difference
    /// of the two starts: as many states, the same edges in the same order, the same rules called,
    /// and every edge from and to a state of its own fragment. Two such fragments read the same
    /// language between corresponding states.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool SameFragment(NfaMark a, NfaMark aEnd, NfaMark b, NfaMark bEnd)
    {
        if (aEnd.States - a.States != bEnd.States - b.States || aEnd.Bytes - a.Bytes != bEnd.Bytes - b.Bytes
            || aEnd.Eps - a.Eps != bEnd.Eps - b.Eps || aEnd.Calls - a.Calls != bEnd.Calls - b.Calls)
        {
            return false;
        }

        var (lo, hi, shift) = (a.States, aEnd.States, b.States - a.States);
        if (!Shifted(_bytes.Froms(a.Bytes, aEnd.Bytes), _bytes.Froms(b.Bytes, bEnd.Bytes), lo, hi, shift)
            || !Shifted(_eps.Froms(a.Eps, aEnd.Eps), _eps.Froms(b.Eps, bEnd.Eps), lo, hi, shift)
            || !Shifted(_eps.Edges(a.Eps, aEnd.Eps), _eps.Edges(b.Eps, bEnd.Eps), lo, hi, shift)
            || !Shifted(_calls.Froms(a.Calls, aEnd.Calls), _calls.Froms(b.Calls, bEnd.Calls), lo, hi, shift))
        {
            return false;
        }

        var bytesA = _bytes.Edges(a.Bytes, aEnd.Bytes);
        var bytesB = _bytes.Edges(b.Bytes, bEnd.Bytes);
        for (var k = 0; k < bytesA.Length; k++)
        {
            var (x, y) = (bytesA[k], bytesB[k]);
            if (x.Lo != y.Lo || x.Hi != y.Hi || x.Target < lo || x.Target >= hi || x.Target + shift != y.Target)
            {
                return false;
            }
        }

        var callsA = _calls.Edges(a.Calls, aEnd.Calls);
        var callsB = _calls.Edges(b.Calls, bEnd.Calls);
        for (var k = 0; k < callsA.Length; k++)
        {
            var (x, y) = (callsA[k], callsB[k]);
            if (x.Rule != y.Rule || x.Target < lo || x.Target >= hi || x.Target + shift != y.Target)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether every state of <paramref name="x"/> lies in [lo, hi) and is the one of <paramref name="y"/> less <paramref name="shift"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Shifted(ReadOnlySpan<int> x, ReadOnlySpan<int> y, int lo, int hi, int shift)
    {
        for (var k = 0; k < x.Length; k++)
        {
            if (x[k] < lo || x[k] >= hi || x[k] + shift != y[k])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Appends a chain of states that reads exactly <paramref name="text"/>; returns its end.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Literal(int from, ReadOnlySpan<byte> text)
    {
        foreach (var b in text)
        {
            var next = AddState();
            AddBytes(from, b, b, next);
            from = next;
        }

        return from;
    }

    /// <summary>Appends one byte range step; returns the new end state.</summary>
    public int Range(int from, byte lo, byte hi)
    {
        var next = AddState();
        AddBytes(from, lo, hi, next);
        return next;
    }

    /// <summary>Appends one call of <paramref name="rule"/>; returns the new end state.</summary>
    public int Call(int from, int rule)
    {
        var next = AddState();
        AddCall(from, rule, next);
        return next;
    }

    /// <summary>
    /// Appends a copy of a deterministic byte automaton, starting at <paramref name="from"/>; every
    /// accepting state gets an epsilon to the returned end state.
    /// </summary>
    public int Inline(ByteDfa dfa, int from)
    {
        var end = AddState();
        var map = new int[dfa.StateCount];
        for (var s = 0; s < map.Length; s++)
        {
            map[s] = s == 0 ? from : AddState();
        }

        for (var s = 0; s < map.Length; s++)
        {
            dfa.ForEachRange(s, (lo, hi, to) => AddBytes(map[s], lo, hi, map[to]));
            if (dfa.IsAccepting(s))
            {
                AddEps(map[s], end);
            }
        }

        return end;
    }

    /// <summary>Epsilon closure of <paramref name="seeds"/> into a sorted, duplicate-free array.</summary>
    public int[] Closure(ReadOnlySpan<int> seeds) => ScratchClosure(seeds, -1, activeOnly: false).ToArray();

    /// <summary>
    /// The states of the epsilon closure of <paramref name="seeds"/> that can do something: read a
    /// byte, call a rule, or be <paramref name="end"/>; sorted, duplicate-free. Two closures that
    /// differ only in pass-through states behave alike, and naming a DFA state by this part makes
    /// them one state (each \uXXXX escape would otherwise end in its own copy of the string body).
    /// </summary>
    public int[] ActiveClosure(ReadOnlySpan<int> seeds, int end) => ScratchClosure(seeds, end, activeOnly: true).ToArray();

    /// <summary>
    /// <see cref="Closure"/> (or, with <paramref name="activeOnly"/>, <see cref="ActiveClosure"/>) into
    /// scratch storage: valid until the next closure. Determinization interns most closures it takes
    /// as states it already has, so copying each into a fresh array first was wasted.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ReadOnlySpan<int> ScratchClosure(ReadOnlySpan<int> seeds, int end, bool activeOnly)
    {
        // Determinization takes thousands of closures: mark visits with a stamp instead of a fresh set each time.
        if (_visited.Length < StateCount)
        {
            _visited = new int[Math.Max(StateCount, _visited.Length * 2)];
        }

        Budget.Tick();
        _closure.Clear();
        if (seeds.Length == 1 && EpsOf(seeds[0]).IsEmpty)
        {
            // A state without epsilons is its own closure (most seeds of a determinization are such a
            // state of a string, a number or a literal): no walk, no stamp, no sort.
            var s = seeds[0];
            if (!activeOnly || s == end || !BytesOf(s).IsEmpty || !CallsOf(s).IsEmpty)
            {
                _closure.Add(s);
            }

            return CollectionsMarshal.AsSpan(_closure);
        }

        var stamp = ++_visitStamp;
        _depth = 0; // a walk cut short by the budget leaves nothing behind
        foreach (var s in seeds)
        {
            if (_visited[s] != stamp)
            {
                _visited[s] = stamp;
                Push(s);
            }
        }

        while (_depth > 0)
        {
            var s = _pending[--_depth];
            if (!activeOnly || s == end || !BytesOf(s).IsEmpty || !CallsOf(s).IsEmpty)
            {
                _closure.Add(s);
            }

            foreach (var t in EpsOf(s))
            {
                if (_visited[t] != stamp)
                {
                    _visited[t] = stamp;
                    Push(t);
                }
            }
        }

        var result = CollectionsMarshal.AsSpan(_closure);
        SortMostlyOrdered(result);
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Push(int state)
    {
        if (_depth == _pending.Length)
        {
            Array.Resize(ref _pending, _depth * 2);
        }

        _pending[_depth++] = state;
    }

    /// <summary>
    /// Sorts a closure. States are numbered in construction order and epsilons mostly lead forward, so
    /// the depth-first walk usually yields them in reverse order (or in order): checked in one pass
    /// before paying for a sort (a closure of thousands of states, e.g. an object's optional properties).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SortMostlyOrdered(Span<int> states)
    {
        bool ascending = true, descending = true;
        for (var k = 1; k < states.Length && (ascending || descending); k++)
        {
            ascending &= states[k - 1] < states[k];
            descending &= states[k - 1] > states[k];
        }

        if (descending && !ascending)
        {
            states.Reverse();
        }
        else if (!ascending)
        {
            states.Sort();
        }
    }
}

/// <summary>How many states and edges of each kind a <see cref="ByteNfa"/> had at some point of its construction.</summary>
internal readonly record struct NfaMark(int States, int Bytes, int Eps, int Calls);

/// <summary>A transition on any byte in [Lo, Hi].</summary>
internal readonly record struct ByteEdge(byte Lo, byte Hi, int Target);

/// <summary>A transition that consumes one whole instance of grammar rule <c>Rule</c>.</summary>
internal readonly record struct CallEdge(int Rule, int Target);
