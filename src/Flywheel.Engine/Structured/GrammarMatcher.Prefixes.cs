namespace Flywheel.Structured;

/// <summary>
/// Reading many tokens from the same configurations in trie order (ResolveUncertain, and the
/// budget's per-token check near the end): each token goes on from the configurations left by the
/// prefix it shares with the one before, kept per prefix level, so most bytes are read once.
/// </summary>
public sealed partial class GrammarMatcher
{
    /// <summary>
    /// Sets the bits of the <paramref name="uncertain"/> tokens that <paramref name="node"/>'s real
    /// stack accepts. They come in trie order (the walk's), so each token goes on from the sets of
    /// the prefix it shares with the one before rather than from the first byte: the same answers
    /// as <see cref="Accepts"/> token by token, with most of the bytes read once.
    /// </summary>
    private void ResolveUncertain(int node, int[] uncertain, int scratch, Span<uint> bitmask)
    {
        if (uncertain.Length == 0)
        {
            return;
        }

        var mark = _runner.NodeCount;
        _runner.EnsureSets(scratch + 1);
        _runner.Sets[scratch] = node;
        _prefixStart[0] = scratch;
        _prefixCount[0] = 1;
        _prefixMark[0] = mark;
        SetPlainLevel(0);
        var known = 0; // sets are valid for depths 0..known of the previous token
        var previous = ReadOnlySpan<byte>.Empty;
        foreach (var id in uncertain)
        {
            if ((bitmask[id >> 5] & (1u << (id & 31))) != 0)
            {
                continue;
            }

            var bytes = _vocab.BytesOf(id);
            var depth = ExtendPrefixes(bytes, Math.Min(bytes.CommonPrefixLength(previous), known));

            // Either every byte was read (depth == length) or a prefix died (its count is 0).
            if (depth == bytes.Length && _prefixCount[depth] > 0)
            {
                bitmask[id >> 5] |= 1u << (id & 31);
            }

            known = depth;
            previous = bytes;
        }

        _runner.NodeCount = mark;
    }

    /// <summary>
    /// Reads <paramref name="bytes"/> from <paramref name="depth"/> on, one prefix level per byte, from the
    /// configurations the shorter prefixes left (levels up to <paramref name="depth"/> are reused from the
    /// previous token in trie order); returns how deep it got: the length, or the level whose set died.
    /// </summary>
    /// <remarks>
    /// A level whose set is one configuration in a plain state (bytes only: no accept, no call) keeps
    /// that state and its stack instead of a runner node, and the next byte is a table move where it
    /// reaches a plain state again (inside a string, nearly every byte): the runner would leave the
    /// same single configuration, only at the cost of a node. Such a level is turned into a node only
    /// when its move needs the runner's closure.
    /// </remarks>
    private int ExtendPrefixes(ReadOnlySpan<byte> bytes, int depth)
    {
        var g = _runner.Grammar;
        var next = g.Next;
        var classOf = g.ClassOf;
        var classCount = g.ClassCount;
        var flags = g.Flags;
        while (depth < bytes.Length && _prefixCount[depth] > 0)
        {
            var q = _prefixPlain[depth];
            var src = _prefixStart[depth];
            if (q >= 0)
            {
                var to = next[(q * classCount) + classOf[bytes[depth]]];
                if (to < 0 || flags[to] == CompiledGrammar.FlagBytes)
                {
                    depth++;
                    _prefixStart[depth] = src + 1;
                    _prefixCount[depth] = to < 0 ? 0 : 1;
                    _prefixMark[depth] = _prefixMark[depth - 1];
                    _prefixPlain[depth] = to;
                    _prefixParent[depth] = _prefixParent[depth - 1];
                    _prefixStack[depth] = _prefixStack[depth - 1];
                    continue;
                }

                _runner.NodeCount = _prefixMark[depth];
                _runner.EnsureSets(src + 1);
                _runner.Sets[src] = _runner.NewNode(q, _prefixParent[depth]);
            }
            else
            {
                _runner.NodeCount = _prefixMark[depth];
            }

            var dst = src + _prefixCount[depth];
            var count = _runner.Advance(src, _prefixCount[depth], bytes[depth], dst);
            depth++;
            _prefixStart[depth] = dst;
            _prefixCount[depth] = count;
            _prefixMark[depth] = _runner.NodeCount;
            SetPlainLevel(depth);
        }

        return depth;
    }

    /// <summary>Marks prefix level <paramref name="depth"/> plain when its set (in Sets) is one configuration in a plain state.</summary>
    private void SetPlainLevel(int depth)
    {
        _prefixPlain[depth] = -1;
        if (_prefixCount[depth] != 1)
        {
            return;
        }

        var node = _runner.Sets[_prefixStart[depth]];
        var state = _runner.StateOf(node);
        if (state >= 0 && _runner.Grammar.Flags[state] == CompiledGrammar.FlagBytes)
        {
            _prefixPlain[depth] = state;
            _prefixParent[depth] = _runner.ParentOf(node);
            _prefixStack[depth] = _budget is null ? 0 : NodeBound(_prefixParent[depth]);
        }
    }
}
