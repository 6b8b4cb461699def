namespace Flywheel.Structured;

/// <summary>
/// The plain region of a grammar state: the state plus every plain state (bytes only: no accept,
/// no call) reachable from it through plain states by bytes other than <see cref="ExitByte"/>, numbered in breadth-first order with bytes
/// ascending. Its <see cref="RegionKey"/> spells each state's 256 byte moves as runs of "dead",
/// "exit" (to a state that needs a closure, or on the exit byte) or "region state k", so two states with equal keys
/// walk the same trie prefixes to the same places whatever grammar they come from: inside a
/// string with no length bound, say, in every schema. Not thread-safe; reuse one per walker.
/// </summary>
/// <remarks>
/// A walk of tokens of at most maxDepth bytes never moves on from a state maxDepth bytes from the
/// root, and never reaches one further away, so the key leaves them out (codes them "beyond"): two
/// roots whose regions agree that far walk alike. The positions of a long counted string further
/// than that from its cap and its minimum thus share one key, in every grammar.
/// </remarks>
internal sealed class StacklessRegion
{
    /// <summary>Regions with more states are not shared (their keys would cost more than they save).</summary>
    public const int MaxStates = 256;

    /// <summary>
    /// A move on this byte always leaves the region, even to a plain state: the quote that ends a
    /// string would otherwise pull the caller's rule into the region and make it schema-specific.
    /// </summary>
    public const byte ExitByte = (byte)'"';

    private const int Dead = -1, Exit = -2, Beyond = -3, RowEnd = 256;

    private readonly int _maxDepth;

    // Local index per grammar state, valid where _localStamp holds the current build's stamp
    // (a region is built on every mask-cache miss: no dictionary to clear and fill each time).
    private int[] _localOf = [];
    private int[] _localStamp = [];
    private int _stamp;
    private readonly List<int> _code = [];

    // The grammar whose segment starts _segments holds (see SegmentStarts).
    private CompiledGrammar? _segmentsOf;
    private int[] _segments = [];

    // Scratch of RunsOf: a state's runs before they are copied into an array of their own.
    private int[] _runScratch = [];

    /// <summary>
    /// Creates a region builder for walks of tokens of at most <paramref name="maxDepth"/> bytes:
    /// states further from the root than that are never reached by such a walk, so they are left out.
    /// </summary>
    public StacklessRegion(int maxDepth = int.MaxValue)
    {
        _maxDepth = maxDepth;
    }

    /// <summary>Region states, local index -> grammar state; [0] is the root.</summary>
    public List<int> States { get; } = [];

    /// <summary>Builds the region of <paramref name="state"/>; false when it has more than <see cref="MaxStates"/> states.</summary>
    public bool TryBuild(CompiledGrammar g, int state, out RegionKey key)
    {
        if (_localOf.Length < g.StateCount)
        {
            _localOf = new int[g.StateCount];
            _localStamp = new int[g.StateCount];
        }

        var stamp = ++_stamp;
        _code.Clear();
        States.Clear();
        States.Add(state);
        _localOf[state] = 0;
        _localStamp[state] = stamp;
        // States[..layerEnd] lie at distance `depth` or less from the root; a state first met from the
        // last layer a token can leave (maxDepth - 1) is coded Beyond: a walk may step onto it with
        // a token's last byte but never moves on from it, so what follows it plays no part.
        var depth = 0;
        var layerEnd = 1;
        for (var k = 0; k < States.Count; k++)
        {
            if (k == layerEnd)
            {
                depth++;
                layerEnd = States.Count;
            }

            var last = depth >= _maxDepth - 1;
            var runs = RunsOf(g, States[k]);
            var previous = int.MinValue;
            for (var r = 0; r < runs.Length; r += 2)
            {
                var to = runs[r + 1];
                int code;
                if (to < 0)
                {
                    code = to;
                }
                else if (_localStamp[to] == stamp)
                {
                    code = _localOf[to];
                }
                else if (last)
                {
                    code = Beyond;
                }
                else
                {
                    if (States.Count == MaxStates)
                    {
                        key = default;
                        return false;
                    }

                    code = States.Count;
                    _localOf[to] = code;
                    _localStamp[to] = stamp;
                    States.Add(to);
                }

                if (code != previous)
                {
                    _code.Add(runs[r]);
                    _code.Add(code);
                    previous = code;
                }
            }

            _code.Add(RowEnd);
        }

        key = new RegionKey([.. _code]);
        return true;
    }

    /// <summary>
    /// The byte moves of <paramref name="state"/> as runs: (first byte, grammar state, <see cref="Dead"/>
    /// or <see cref="Exit"/>) pairs, a new run wherever that changes. Worked out once per state and
    /// kept in the grammar: a state is met by the region builds of many roots.
    /// </summary>
    private int[] RunsOf(CompiledGrammar g, int state)
    {
        var cache = g.RegionRuns;
        if (cache[state] is { } known)
        {
            return known;
        }

        var segments = SegmentStarts(g);
        if (_runScratch.Length < 2 * segments.Length)
        {
            _runScratch = new int[2 * segments.Length];
        }

        var runs = _runScratch;
        var count = 0;
        var (row, next, classOf, flags) = (state * g.ClassCount, g.Next, g.ClassOf, g.Flags);
        var previous = int.MinValue;
        foreach (var b in segments)
        {
            var to = next[row + classOf[b]];
            var code = to < 0 ? Dead : flags[to] != CompiledGrammar.FlagBytes || b == ExitByte ? Exit : to;
            if (code != previous)
            {
                runs[count++] = b;
                runs[count++] = code;
                previous = code;
            }
        }

        var result = runs.AsSpan(0, count).ToArray();
        cache[state] = result; // a race stores equal runs twice
        return result;
    }

    /// <summary>
    /// The bytes where a run may start in <paramref name="g"/>: where the byte class changes, and at
    /// <see cref="ExitByte"/> and the byte after it. Every byte of a segment moves alike, so a state's
    /// runs are read from one byte per segment (a few dozen) instead of all 256.
    /// </summary>
    private int[] SegmentStarts(CompiledGrammar g)
    {
        if (!ReferenceEquals(_segmentsOf, g))
        {
            var starts = new List<int>();
            for (var b = 0; b < 256; b++)
            {
                if (b == 0 || g.ClassOf[b] != g.ClassOf[b - 1] || b == ExitByte || b == ExitByte + 1)
                {
                    starts.Add(b);
                }
            }

            (_segments, _segmentsOf) = ([.. starts], g);
        }

        return _segments;
    }

    /// <summary>Local index of a region state (one the walk passed through).</summary>
    public int LocalOf(int state) => _localOf[state];
}

/// <summary>Structural identity of a <see cref="StacklessRegion"/>: equal keys, equal region walks.</summary>
internal readonly struct RegionKey : IEquatable<RegionKey>
{
    private readonly int[] _code;
    private readonly int _hash;

    public RegionKey(int[] code)
    {
        _code = code;
        var h = new HashCode();
        h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(code.AsSpan()));
        _hash = h.ToHashCode();
    }

    /// <summary>Estimated memory of the key's code array.</summary>
    public long ByteCount => 24 + (4L * _code.Length);

    public bool Equals(RegionKey other) => _code.AsSpan().SequenceEqual(other._code);

    public override bool Equals(object? obj) => obj is RegionKey other && Equals(other);

    public override int GetHashCode() => _hash;
}
