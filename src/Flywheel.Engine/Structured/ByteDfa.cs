namespace Flywheel.Structured;

/// <summary>
/// A deterministic automaton over bytes with a dense 256-entry row per state (-1 = no move).
/// State 0 is the start. Used for the regular parts of a schema (string contents, formats,
/// numbers with bounds) before they are inlined into the grammar; sizes stay small there.
/// </summary>
internal sealed class ByteDfa
{
    /// <summary>Upper bound on states of one regular sub-language.</summary>
    public const int MaxStates = 50_000;

    private readonly int[] _next;     // [StateCount * 256]
    private readonly bool[] _accept;  // [StateCount]

    public ByteDfa(int[] next, bool[] accept)
    {
        _next = next;
        _accept = accept;
    }

    public int StateCount => _accept.Length;

    public int Next(int state, byte b) => _next[(state << 8) | b];

    public bool IsAccepting(int state) => _accept[state];

    /// <summary>True when the automaton accepts no string at all.</summary>
    public bool IsEmpty
    {
        get
        {
            // After trimming, a start state that can still move or accepts is live.
            var t = Trim();
            return !t._accept[0] && Enumerable.Range(0, 256).All(b => t.Next(0, (byte)b) < 0);
        }
    }

    public bool Matches(ReadOnlySpan<byte> text)
    {
        var s = 0;
        foreach (var b in text)
        {
            s = Next(s, b);
            if (s < 0)
            {
                return false;
            }
        }

        return _accept[s];
    }

    /// <summary>Calls <paramref name="edge"/> once per maximal byte range with the same target.</summary>
    public void ForEachRange(int state, Action<byte, byte, int> edge)
    {
        var row = state << 8;
        var b = 0;
        while (b < 256)
        {
            var to = _next[row + b];
            var end = b;
            while (end + 1 < 256 && _next[row + end + 1] == to)
            {
                end++;
            }

            if (to >= 0)
            {
                edge((byte)b, (byte)end, to);
            }

            b = end + 1;
        }
    }

    /// <summary>Subset construction from an NFA without call edges.</summary>
    public static ByteDfa FromNfa(ByteNfa nfa, int start, int accept)
    {
        var ids = new Dictionary<string, int>();
        var sets = new List<int[]>();
        var next = new List<int>();
        var acc = new List<bool>();
        int Intern(int[] set)
        {
            var key = string.Join(',', set);
            if (ids.TryGetValue(key, out var id))
            {
                return id;
            }

            id = sets.Count;
            if (id >= MaxStates)
            {
                throw new SchemaCompileException("pattern", "#", $"the automaton needs more than {MaxStates} states");
            }

            ids[key] = id;
            sets.Add(set);
            acc.Add(Array.BinarySearch(set, accept) >= 0);
            next.AddRange(Enumerable.Repeat(-1, 256));
            return id;
        }

        Intern(nfa.Closure([start]));
        var targets = new List<int>[256];
        for (var i = 0; i < sets.Count; i++)
        {
            Array.Clear(targets);
            foreach (var s in sets[i])
            {
                foreach (var e in nfa.BytesOf(s))
                {
                    for (var b = e.Lo; b <= e.Hi; b++)
                    {
                        (targets[b] ??= []).Add(e.Target);
                        if (b == 255)
                        {
                            break;
                        }
                    }
                }
            }

            string? prevKey = null;
            var prevId = -1;
            for (var b = 0; b < 256; b++)
            {
                if (targets[b] is null)
                {
                    continue;
                }

                // Neighbouring bytes usually share their targets: skip the closure then.
                var key = string.Join(',', targets[b]);
                if (key != prevKey)
                {
                    prevId = Intern(nfa.Closure(targets[b]));
                    prevKey = key;
                }

                next[(i << 8) | b] = prevId;
            }
        }

        return new ByteDfa([.. next], [.. acc]);
    }

    /// <summary>Product automaton accepting strings both accept.</summary>
    public static ByteDfa Intersect(ByteDfa a, ByteDfa b) => Product(a, b, (x, y) => x && y, complete: false);

    /// <summary>Strings that <paramref name="a"/> accepts and <paramref name="b"/> rejects.</summary>
    public static ByteDfa Subtract(ByteDfa a, ByteDfa b) => Product(a, b, (x, y) => x && !y, complete: true);

    private static ByteDfa Product(ByteDfa a, ByteDfa b, Func<bool, bool, bool> accept, bool complete)
    {
        // With complete = true a missing move of b means "b is dead", which must keep going.
        var ids = new Dictionary<(int, int), int>();
        var queue = new List<(int A, int B)>();
        var next = new List<int>();
        var acc = new List<bool>();
        int Intern(int x, int y)
        {
            if (ids.TryGetValue((x, y), out var id))
            {
                return id;
            }

            id = queue.Count;
            if (id >= MaxStates)
            {
                throw new SchemaCompileException("pattern", "#", $"the automaton needs more than {MaxStates} states");
            }

            ids[(x, y)] = id;
            queue.Add((x, y));
            acc.Add(accept(a._accept[x], y >= 0 && b._accept[y]));
            next.AddRange(Enumerable.Repeat(-1, 256));
            return id;
        }

        Intern(0, 0);
        for (var i = 0; i < queue.Count; i++)
        {
            var (x, y) = queue[i];
            for (var c = 0; c < 256; c++)
            {
                var nx = a.Next(x, (byte)c);
                var ny = y >= 0 ? b.Next(y, (byte)c) : -1;
                if (nx < 0 || (ny < 0 && !complete))
                {
                    continue;
                }

                next[(i << 8) | c] = Intern(nx, ny);
            }
        }

        return new ByteDfa([.. next], [.. acc]).Trim();
    }

    /// <summary>Removes states from which no accepting state is reachable (keeps state 0).</summary>
    public ByteDfa Trim()
    {
        var n = StateCount;
        var live = new bool[n];
        var reverse = new List<int>[n];
        for (var s = 0; s < n; s++)
        {
            for (var c = 0; c < 256; c++)
            {
                var t = _next[(s << 8) | c];
                if (t >= 0)
                {
                    (reverse[t] ??= []).Add(s);
                }
            }
        }

        var stack = new Stack<int>();
        for (var s = 0; s < n; s++)
        {
            if (_accept[s])
            {
                live[s] = true;
                stack.Push(s);
            }
        }

        while (stack.Count > 0)
        {
            foreach (var p in (IEnumerable<int>?)reverse[stack.Pop()] ?? [])
            {
                if (!live[p])
                {
                    live[p] = true;
                    stack.Push(p);
                }
            }
        }

        var map = new int[n];
        var count = 0;
        for (var s = 0; s < n; s++)
        {
            map[s] = s == 0 || live[s] ? count++ : -1;
        }

        var next = new int[count << 8];
        var acc = new bool[count];
        for (var s = 0; s < n; s++)
        {
            if (map[s] < 0)
            {
                continue;
            }

            acc[map[s]] = _accept[s];
            for (var c = 0; c < 256; c++)
            {
                var t = _next[(s << 8) | c];
                next[(map[s] << 8) | c] = t >= 0 && live[t] ? map[t] : -1;
            }
        }

        return new ByteDfa(next, acc);
    }
}
