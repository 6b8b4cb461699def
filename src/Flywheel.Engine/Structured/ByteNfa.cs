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

    private readonly List<List<ByteEdge>?> _bytes = [];
    private readonly List<List<int>?> _eps = [];
    private readonly List<List<CallEdge>?> _calls = [];
    private readonly List<int> _closure = [];
    private readonly Stack<int> _pending = new();
    private int[] _visited = [];
    private int _visitStamp;

    /// <param name="budget">What building and determinizing this automaton may spend (default: unlimited).</param>
    public ByteNfa(CompileBudget? budget = null) => Budget = budget ?? CompileBudget.Unlimited;

    /// <summary>The compile's budget: states added here count against it, and so does work on this automaton.</summary>
    public CompileBudget Budget { get; }

    public int StateCount => _bytes.Count;

    public int AddState()
    {
        if (_bytes.Count >= MaxStates)
        {
            throw new SchemaCompileException("(schema)", "#", $"the grammar needs more than {MaxStates} automaton states");
        }

        Budget.AddNfaState();
        _bytes.Add(null);
        _eps.Add(null);
        _calls.Add(null);
        return _bytes.Count - 1;
    }

    public void AddBytes(int from, byte lo, byte hi, int to) => (_bytes[from] ??= []).Add(new ByteEdge(lo, hi, to));

    public void AddEps(int from, int to) => (_eps[from] ??= []).Add(to);

    public void AddCall(int from, int rule, int to) => (_calls[from] ??= []).Add(new CallEdge(rule, to));

    // Spans, not IReadOnlyList: determinization walks the edges of every member of every state set,
    // and an interface enumerator per walk was millions of allocations on a hostile schema.
    public ReadOnlySpan<ByteEdge> BytesOf(int state) => CollectionsMarshal.AsSpan(_bytes[state]);

    public ReadOnlySpan<int> EpsOf(int state) => CollectionsMarshal.AsSpan(_eps[state]);

    public ReadOnlySpan<CallEdge> CallsOf(int state) => CollectionsMarshal.AsSpan(_calls[state]);

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
            if (!activeOnly || s == end || _bytes[s] is { Count: > 0 } || _calls[s] is { Count: > 0 })
            {
                _closure.Add(s);
            }

            if (_eps[s] is { } eps)
            {
                foreach (var t in eps)
                {
                    if (_visited[t] != stamp)
                    {
                        _visited[t] = stamp;
                        _pending.Push(t);
                    }
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
