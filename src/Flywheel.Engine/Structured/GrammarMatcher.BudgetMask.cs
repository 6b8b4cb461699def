namespace Flywheel.Structured;

/// <summary>
/// The budget's mask near the end (see GrammarMatcher.Budget.cs): of the tokens the grammar allows,
/// keep those after which the document still closes in the tokens left after them. Most are kept
/// without reading them: text tokens a string state reads within its bound, and tokens whose rise
/// (<see cref="GrammarBudget.TokenRise"/>) fits under the limit from every configuration. The rest
/// are read from the configurations, in trie order so that shared prefixes are read once.
/// </summary>
public sealed partial class GrammarMatcher
{
    private uint[]? _safe, _union, _pending, _drop;

    /// <summary>Clears the allowed tokens after which the bound exceeds the tokens left after them. End-of-sequence tokens stay (set only when complete).</summary>
    private void KeepTokensThatFit(Span<uint> bitmask)
    {
        var limit = _remaining - 1L;
        var (_, max) = Bounds(_current, 0, _count);
        DropTextTokensThatCannotFit(bitmask, limit);
        var pending = PendingInTrieOrder(bitmask, SafeTextTokens(limit), limit - max);
        if (Profile is { } profile)
        {
            profile.Pending = (int)System.Numerics.Tensors.TensorPrimitives.PopCount<uint>(pending);
        }

        var mark = _runner.NodeCount;
        _runner.EnsureSets(_count);
        _current.AsSpan(0, _count).CopyTo(_runner.Sets);
        _prefixStart[0] = 0;
        _prefixCount[0] = _count;
        _prefixMark[0] = mark;
        SetPlainLevel(0);
        var known = 0; // sets are valid for depths 0..known of the previous token
        var previous = -1;
        var order = _vocab.Trie.Tokens;
        for (var w = 0; w < pending.Length; w++)
        {
            for (var bits = pending[w]; bits != 0; bits &= bits - 1)
            {
                var id = order[(w << 5) + System.Numerics.BitOperations.TrailingZeroCount(bits)];
                if (!FitsAfterPrefix(id, previous, ref known, limit))
                {
                    bitmask[id >> 5] &= ~(1u << (id & 31));
                }

                previous = id;
            }
        }

        _runner.NodeCount = mark;
    }

    /// <summary>
    /// Reads token <paramref name="id"/> on from the sets of the prefix it shares with
    /// <paramref name="previous"/> (valid up to depth <paramref name="known"/>, which it updates),
    /// as ResolveUncertain does; true if it survives with its bound within <paramref name="limit"/>.
    /// </summary>
    private bool FitsAfterPrefix(int id, int previous, ref int known, long limit)
    {
        var bytes = _vocab.BytesOf(id);
        var shared = previous < 0 ? 0 : bytes.CommonPrefixLength(_vocab.BytesOf(previous));
        var depth = ExtendPrefixes(bytes, Math.Min(shared, known));

        known = depth;
        if (depth < bytes.Length || _prefixCount[depth] == 0)
        {
            return false;
        }

        // A plain level's bound: its stack's plus its state's finish (NodeBound, without a node).
        var q = _prefixPlain[depth];
        var min = q >= 0 ? Math.Min(_prefixStack[depth] + _budget!.Finish[q], GrammarBudget.Unbounded)
            : Bounds(_runner.Sets, _prefixStart[depth], _prefixCount[depth]).Min;
        return min <= limit;
    }

    /// <summary>
    /// The allowed tokens neither in <paramref name="safe"/> nor with a rise within
    /// <paramref name="room"/>, as a bit set over trie positions: read in order, they come in trie
    /// order at the cost of the set bits rather than of the vocabulary.
    /// </summary>
    private uint[] PendingInTrieOrder(Span<uint> bitmask, uint[] safe, long room)
    {
        var position = _vocab.TriePosition;
        var rise = _budget!.TokenRise;
        var pending = _pending ??= new uint[(_vocab.Trie.Tokens.Length + 31) / 32];
        Array.Clear(pending);
        for (var w = 0; w < bitmask.Length; w++)
        {
            for (var bits = bitmask[w] & ~safe[w]; bits != 0; bits &= bits - 1)
            {
                var id = (w << 5) + System.Numerics.BitOperations.TrailingZeroCount(bits);
                var p = position[id];
                if (p >= 0 && rise[id] > room)
                {
                    pending[p >> 5] |= 1u << (p & 31);
                }
            }
        }

        return pending;
    }

    /// <summary>
    /// The text tokens known to fit without reading them: for a configuration in a plain state whose
    /// text region (see <see cref="GrammarBudget.TextRegionOf"/>) keeps its bound within
    /// <paramref name="limit"/>, every text token made of the region's groups only (and short enough
    /// where the groups hold for short runs only). Inside a string that is most of the vocabulary.
    /// Where only the region's states on a character boundary keep the bound within the limit (the
    /// states part-way through a multi-byte character need more bytes to close), the tokens that end
    /// on a boundary (<see cref="CharacterEnds"/>), which are nearly all of them.
    /// </summary>
    private uint[] SafeTextTokens(long limit)
    {
        var safe = _safe ??= new uint[_vocab.MaskLength];
        Array.Clear(safe);
        for (var c = 0; c < _count; c++)
        {
            var node = _current[c];
            if (node == PdaRunner.FinalNode || _budget!.TextRegionOf(_runner.Grammar, _runner.StateOf(node)) is not { } region)
            {
                continue;
            }

            var stack = NodeBound(node) - _budget.Finish[_runner.StateOf(node)];
            if (stack + region.MaxFinish <= limit)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(safe, RegionTokens(region, boundaryOnly: false), safe);
            }
            else if (stack + region.MaxBoundaryFinish <= limit)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(safe, RegionTokens(region, boundaryOnly: true), safe);
            }
        }

        return safe;
    }

    /// <summary>
    /// Clears the text tokens known not to fit without reading them. For a configuration in a plain
    /// state whose text region's least bound exceeds <paramref name="limit"/>, no token of the region's
    /// text fits: it leaves that configuration in the region on the same stack. A token is dropped when
    /// that holds for every live configuration (the final one reads no token). At the budget's edge
    /// inside a string (the bound equal to the tokens left) that is all the text, which would
    /// otherwise be read token by token.
    /// </summary>
    private void DropTextTokensThatCannotFit(Span<uint> bitmask, long limit)
    {
        var drop = _drop ??= new uint[_vocab.MaskLength];
        var any = false;
        for (var c = 0; c < _count; c++)
        {
            var node = _current[c];
            if (node == PdaRunner.FinalNode)
            {
                continue;
            }

            var state = _runner.StateOf(node);
            if (_budget!.TextRegionOf(_runner.Grammar, state) is not { } region)
            {
                return; // this configuration may read any token and fit
            }

            var stack = NodeBound(node) - _budget.Finish[state];
            if (stack + region.MinBoundaryFinish <= limit)
            {
                return; // MinFinish is no larger: nothing is known not to fit from here
            }

            var mine = RegionTokens(region, boundaryOnly: stack + region.MinFinish <= limit);
            if (any)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(drop, mine, drop);
            }
            else
            {
                mine.CopyTo(drop, 0);
                any = true;
            }
        }

        for (var w = 0; any && w < bitmask.Length; w++)
        {
            bitmask[w] &= ~drop[w];
        }
    }

    /// <summary>
    /// The text tokens made of <paramref name="region"/>'s groups only (all text tokens less those
    /// with a byte of another group), short enough where it is bounded, and ending on a character
    /// boundary with <paramref name="boundaryOnly"/>. Written to scratch that the next call reuses.
    /// </summary>
    private uint[] RegionTokens(GrammarBudget.TextRegion region, bool boundaryOnly)
    {
        var trie = _vocab.Trie;
        var union = _union ??= new uint[_vocab.MaskLength];
        Array.Clear(union);
        for (var missing = ByteGroups.Text & ~region.Groups; missing != 0; missing &= missing - 1)
        {
            System.Numerics.Tensors.TensorPrimitives.BitwiseOr(union, trie.GroupTokens[System.Numerics.BitOperations.TrailingZeroCount(missing)], union);
        }

        System.Numerics.Tensors.TensorPrimitives.OnesComplement(union, union);
        System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(union, trie.TextTokens, union);
        if (region.Bounded)
        {
            System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(union, _vocab.ShortTokens, union);
        }

        if (boundaryOnly)
        {
            System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(union, _vocab.BoundaryTokens, union);
        }

        return union;
    }
}
