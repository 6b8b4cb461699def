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
    private readonly Stack<int> _pending = new();
    private int[] _visited = [];
    private int _visitStamp;

    /// <param name="budget">What building and determinizing this automaton may spend (default: unlimited).</param>
    public ByteNfa(CompileBudget? budget = null) => Budget = budget ?? CompileBudget.Unlimited;

    /// <summary>The compile's budget: states added here count against it, and so does work on this automaton.</summary>
    public CompileBudget Budget { get; }

    public int StateCount => _stateCount;

    public int AddState()
    {
        if (_stateCount >= MaxStates)
        {
            throw new SchemaCompileException("(schema)", "#", $"the grammar needs more than {MaxStates} automaton states");
        }

        Budget.AddNfaState();
        return _stateCount++;
    }

    public void AddBytes(int from, byte lo, byte hi, int to) => _bytes.Add(from, new ByteEdge(lo, hi, to));

    public void AddEps(int from, int to) => _eps.Add(from, to);

    public void AddCall(int from, int rule, int to) => _calls.Add(from, new CallEdge(rule, to));

    // Spans, not IReadOnlyList: determinization walks the edges of every member of every state set,
    // and an interface enumerator per walk was millions of allocations on a hostile schema.
    public ReadOnlySpan<ByteEdge> BytesOf(int state) => _bytes.Of(state, _stateCount);

    public ReadOnlySpan<int> EpsOf(int state) => _eps.Of(state, _stateCount);

    public ReadOnlySpan<CallEdge> CallsOf(int state) => _calls.Of(state, _stateCount);

    /// <summary>Appends a chain of states that reads exactly <paramref name="text"/>; returns its end.</summary>
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
    public ReadOnlySpan<int> ScratchClosure(ReadOnlySpan<int> seeds, int end, bool activeOnly)
    {
        // Determinization takes thousands of closures: mark visits with a stamp instead of a fresh set each time.
        if (_visited.Length < StateCount)
        {
            _visited = new int[Math.Max(StateCount, _visited.Length * 2)];
        }

        Budget.Tick();
        var stamp = ++_visitStamp;
        _closure.Clear();
        foreach (var s in seeds)
        {
            if (_visited[s] != stamp)
            {
                _visited[s] = stamp;
                _pending.Push(s);
            }
        }

        while (_pending.Count > 0)
        {
            var s = _pending.Pop();
            if (!activeOnly || s == end || !BytesOf(s).IsEmpty || !CallsOf(s).IsEmpty)
            {
                _closure.Add(s);
            }

            foreach (var t in EpsOf(s))
            {
                if (_visited[t] != stamp)
                {
                    _visited[t] = stamp;
                    _pending.Push(t);
                }
            }
        }

        var result = CollectionsMarshal.AsSpan(_closure);
        SortMostlyOrdered(result);
        return result;
    }

    /// <summary>
    /// Sorts a closure. States are numbered in construction order and epsilons mostly lead forward, so
    /// the depth-first walk usually yields them in reverse order (or in order): checked in one pass
    /// before paying for a sort (a closure of thousands of states, e.g. an object's optional properties).
    /// </summary>
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

/// <summary>A transition on any byte in [Lo, Hi].</summary>
internal readonly record struct ByteEdge(byte Lo, byte Hi, int Target);

/// <summary>A transition that consumes one whole instance of grammar rule <c>Rule</c>.</summary>
internal readonly record struct CallEdge(int Rule, int Target);

/// <summary>
/// The edges of one kind of a <see cref="ByteNfa"/>: appended in any order of states, then laid out
/// by state (a counting sort that keeps each state's edges in the order they were added) the first
/// time they are read after a change.
/// </summary>
internal sealed class EdgeLog<T>
    where T : struct
{
    private readonly List<int> _from = [];
    private readonly List<T> _edges = [];
    private int[] _starts = [0];      // per state, where its edges start in _sorted; one more at the end
    private T[] _sorted = [];
    private int _laidOut = -1;         // edges in the layout (-1: none yet)
    private int _layoutStates;

    public void Add(int from, T edge)
    {
        _from.Add(from);
        _edges.Add(edge);
    }

    public ReadOnlySpan<T> Of(int state, int stateCount)
    {
        if (_laidOut != _edges.Count || _layoutStates != stateCount)
        {
            LayOut(stateCount);
        }

        return _sorted.AsSpan(_starts[state], _starts[state + 1] - _starts[state]);
    }

    private void LayOut(int stateCount)
    {
        var starts = new int[stateCount + 1];
        foreach (var f in _from)
        {
            starts[f + 1]++;
        }

        for (var s = 0; s < stateCount; s++)
        {
            starts[s + 1] += starts[s];
        }

        var sorted = new T[_edges.Count];
        var fill = starts[..stateCount];
        var edges = CollectionsMarshal.AsSpan(_edges);
        var from = CollectionsMarshal.AsSpan(_from);
        for (var k = 0; k < edges.Length; k++)
        {
            sorted[fill[from[k]]++] = edges[k];
        }

        _starts = starts;
        _sorted = sorted;
        _laidOut = edges.Length;
        _layoutStates = stateCount;
    }
}
