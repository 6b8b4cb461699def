namespace Flywheel.Structured;

/// <summary>
/// Walks a <see cref="TokenTrie"/> with a <see cref="PdaRunner"/>: one byte per trie edge, one
/// configuration set per depth, pruning a whole subtree as soon as its prefix is dead. Tokens whose
/// fate depends on the stack below the explored frame (the frame returned to <see cref="PdaRunner.BaseNode"/>
/// part-way through the token) are reported as uncertain. Reuses its buffers: no allocation per walk.
/// </summary>
internal sealed class TrieWalker
{
    private readonly TokenTrie _trie;
    private readonly int[] _setStart;
    private readonly int[] _setCount;
    private readonly int[] _nodeMark;
    private readonly bool[] _popped;

    public TrieWalker(TokenTrie trie)
    {
        _trie = trie;
        var depth = trie.MaxDepth + 2;
        _setStart = new int[depth];
        _setCount = new int[depth];
        _nodeMark = new int[depth];
        _popped = new bool[depth];
    }

    /// <summary>
    /// Sets a bit in <paramref name="accepted"/> for every token that can be consumed from the
    /// configurations in runner.Sets[rootStart..rootStart+rootCount); adds uncertain tokens to
    /// <paramref name="uncertain"/> (when given). Leaves the runner's node pool as it found it.
    /// </summary>
    public void Walk(PdaRunner runner, int rootStart, int rootCount, Span<uint> accepted, List<int>? uncertain)
    {
        var t = _trie;
        var label = t.Label;
        var depthOf = t.Depth;
        var skip = t.Skip;
        var tokenStart = t.TokenStart;
        var tokens = t.Tokens;
        _setStart[0] = rootStart;
        _setCount[0] = rootCount;
        _nodeMark[0] = runner.NodeCount;
        _popped[0] = false;
        var i = 1;
        var nodes = t.NodeCount;
        while (i < nodes)
        {
            var d = depthOf[i];
            var parentStart = _setStart[d - 1];
            var parentCount = _setCount[d - 1];
            runner.NodeCount = _nodeMark[d - 1];
            var dst = parentStart + parentCount;
            runner.PoppedToBase = false;
            var n = runner.Advance(parentStart, parentCount, label[i], dst);
            var poppedHere = runner.PoppedToBase;
            var inherited = _popped[d - 1];
            if (n > 0 || poppedHere)
            {
                for (var k = tokenStart[i]; k < tokenStart[i + 1]; k++)
                {
                    var id = tokens[k];
                    accepted[id >> 5] |= 1u << (id & 31);
                }
            }
            else if (inherited && uncertain is not null)
            {
                for (var k = tokenStart[i]; k < tokenStart[i + 1]; k++)
                {
                    uncertain.Add(tokens[k]);
                }
            }

            if (n == 0)
            {
                if ((inherited || poppedHere) && uncertain is not null)
                {
                    for (var k = tokenStart[i + 1]; k < tokenStart[skip[i]]; k++)
                    {
                        uncertain.Add(tokens[k]);
                    }
                }

                i = skip[i];
                continue;
            }

            _setStart[d] = dst;
            _setCount[d] = n;
            _nodeMark[d] = runner.NodeCount;
            _popped[d] = inherited || poppedHere;
            i++;
        }

        runner.NodeCount = _nodeMark[0];
    }
}
