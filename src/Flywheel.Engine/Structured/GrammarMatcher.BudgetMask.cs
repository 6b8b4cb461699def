using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
    private uint[]? _safe, _pending, _drop, _readable, _dropped;

    /// <summary>Clears the allowed tokens after which the bound exceeds the tokens left after them. End-of-sequence tokens stay (set only when complete).</summary>
    private void KeepTokensThatFit(Span<uint> bitmask)
    {
        var limit = _remaining - 1L;
        var (_, max) = Bounds(_current, 0, _count);
        DropTextTokensThatCannotFit(bitmask, limit, _entries);
        var pending = PendingInTrieOrder(bitmask, SafeTextTokens(limit), limit - max);

        var mark = _runner.NodeCount;
        _runner.EnsureSets(_count);
        _current.AsSpan(0, _count).CopyTo(_runner.Sets);
        _prefixStart[0] = 0;
        _prefixCount[0] = _count;
        _prefixMark[0] = mark;
        SetPlainLevel(0);
        var known = 0; // sets are valid for depths 0..known of the previous token
        var previous = ReadOnlySpan<byte>.Empty;
        var order = _vocab.Trie.Tokens;
        var bytesAt = _vocab.InTrieOrder;
        var read = 0;
        for (var w = 0; w < pending.Length; w++)
        {
            if (ClearBlockAt(pending, null, w))
            {
                w += 7; // most masks read few tokens
                continue;
            }

            for (var bits = pending[w]; bits != 0; bits &= bits - 1)
            {
                var p = (w << 5) + BitOperations.TrailingZeroCount(bits);
                var bytes = bytesAt.At(p);
                if (!FitsAfterPrefix(bytes, previous, ref known, limit))
                {
                    var id = order[p];
                    bitmask[id >> 5] &= ~(1u << (id & 31));
                }

                previous = bytes;
                read++;
            }
        }

        _runner.NodeCount = mark;
        if (Profile is { } profile)
        {
            profile.Pending = read;
        }
    }

    /// <summary>
    /// Reads a token's <paramref name="bytes"/> on from the sets of the prefix it shares with the
    /// <paramref name="previous"/> token's (valid up to depth <paramref name="known"/>, which it updates),
    /// as ResolveUncertain does; true if it survives with its bound within <paramref name="limit"/>.
    /// </summary>
    private bool FitsAfterPrefix(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> previous, ref int known, long limit)
    {
        var shared = bytes.CommonPrefixLength(previous);
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
    /// The allowed tokens neither in <paramref name="safe"/> (null: none) nor with a rise within
    /// <paramref name="room"/>, as a bit set over trie positions: read in order, they come in trie
    /// order at the cost of the set bits rather than of the vocabulary.
    /// </summary>
    private uint[] PendingInTrieOrder(Span<uint> bitmask, uint[]? safe, long room)
    {
        var position = _vocab.TriePosition;
        var rise = _budget!.TokenRise;
        var pending = _pending ??= new uint[(_vocab.Trie.Tokens.Length + 31) / 32];
        Array.Clear(pending);
        if (Vector256.IsHardwareAccelerated && room >= GrammarBudget.ClampLow && room < GrammarBudget.ClampLow + 255)
        {
            // 32 rises compared at once, as bytes (exact in this range of rooms): only the bits left
            // are visited. Near the end the allowed tokens not known safe are few (a closing quote
            // and the punctuation after it, or a short constant), so blocks of 8 words with none of
            // them are passed a vector at a time.
            ref var clamped = ref MemoryMarshal.GetArrayDataReference(_budget.ClampedRise);
            var threshold = Vector256.Create((byte)(room - GrammarBudget.ClampLow));
            for (var w = 0; w < bitmask.Length; w++)
            {
                if (ClearBlockAt(bitmask, safe, w))
                {
                    w += 7;
                    continue;
                }

                var bits = safe is null ? bitmask[w] : bitmask[w] & ~safe[w];
                if (bits == 0)
                {
                    continue;
                }

                bits &= Vector256.GreaterThan(Vector256.LoadUnsafe(ref clamped, (nuint)w << 5), threshold).ExtractMostSignificantBits();
                for (; bits != 0; bits &= bits - 1)
                {
                    if (position[(w << 5) + BitOperations.TrailingZeroCount(bits)] is var p && p >= 0)
                    {
                        pending[p >> 5] |= 1u << (p & 31);
                    }
                }
            }

            return pending;
        }

        for (var w = 0; w < bitmask.Length; w++)
        {
            for (var bits = safe is null ? bitmask[w] : bitmask[w] & ~safe[w]; bits != 0; bits &= bits - 1)
            {
                // Most allowed tokens have a rise within the room: test it before the trie position.
                var id = (w << 5) + BitOperations.TrailingZeroCount(bits);
                if (rise[id] > room && position[id] is var p && p >= 0)
                {
                    pending[p >> 5] |= 1u << (p & 31);
                }
            }
        }

        return pending;
    }

    /// <summary>
    /// Whether word <paramref name="w"/> starts a block of 8 words of <paramref name="words"/> with no
    /// bit outside <paramref name="except"/> (null: none), which a scan then passes at once: a vector
    /// compare in place of 8 word reads.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool ClearBlockAt(ReadOnlySpan<uint> words, uint[]? except, int w)
    {
        if ((w & 7) != 0 || w + 8 > words.Length)
        {
            return false;
        }

        var block = Vector256.LoadUnsafe(ref MemoryMarshal.GetReference(words), (nuint)w);
        if (except is not null)
        {
            block = Vector256.AndNot(block, Vector256.LoadUnsafe(ref MemoryMarshal.GetArrayDataReference(except), (nuint)w));
        }

        return block == Vector256<uint>.Zero;
    }

    /// <summary>
    /// The text tokens known to fit without reading them (null: none): for a configuration in a plain
    /// state whose text region (see <see cref="GrammarBudget.TextRegionOf"/>) keeps its bound within
    /// <paramref name="limit"/>, every text token made of the region's groups only (and short enough
    /// where the groups hold for short runs only). Inside a string that is most of the vocabulary.
    /// Where only the region's states on a character boundary keep the bound within the limit (the
    /// states part-way through a multi-byte character need more bytes to close), the tokens that end
    /// on a boundary (<see cref="CharacterEnds"/>), which are nearly all of them. With one such
    /// configuration the set is the vocabulary's shared one, not a copy.
    /// </summary>
    private uint[]? SafeTextTokens(long limit)
    {
        uint[]? first = null;
        uint[]? union = null;
        for (var c = 0; c < _count; c++)
        {
            var node = _current[c];
            if (node == PdaRunner.FinalNode || _budget!.TextRegionOf(_runner.Grammar, _runner.StateOf(node)) is not { } region)
            {
                continue;
            }

            if (!region.TryFit(NodeBound(node) - _budget.Finish[_runner.StateOf(node)], limit, out var boundaryOnly, out _))
            {
                continue;
            }

            var mine = RegionTokens(region, boundaryOnly);

            if (first is null)
            {
                first = mine;
                continue;
            }

            if (union is null)
            {
                union = _safe ??= new uint[_vocab.MaskLength];
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(first, mine, union);
            }
            else
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(union, mine, union);
            }
        }

        return union ?? first;
    }

    /// <summary>
    /// Clears the text tokens known not to fit without reading them. For a configuration in a plain
    /// state whose text region's least bound exceeds <paramref name="limit"/>, no token of the region's
    /// text fits: it leaves that configuration in the region on the same stack. A token is dropped when
    /// no configuration both can read it (its state's cache entry, <paramref name="entries"/>, accepts
    /// it or leaves it to the stack) and is not known to overflow with it; the final configuration
    /// reads no token. At the budget's edge inside a string that is all the text, which would
    /// otherwise be read token by token, also beside a configuration that reads a few tokens only
    /// (the next bytes of a constant, say).
    /// </summary>
    private void DropTextTokensThatCannotFit(Span<uint> bitmask, long limit, MaskCache.Entry?[] entries)
    {
        var (readers, regions, single) = (0, 0, -1);
        for (var c = 0; c < _count; c++)
        {
            if (_current[c] != PdaRunner.FinalNode)
            {
                readers++;
                single = c;
            }

            if (DropOf(c, limit) is not null)
            {
                regions++;
            }
        }

        if (regions == 0)
        {
            return; // nothing is known not to fit from here
        }

        if (readers == 1)
        {
            // One configuration reads tokens: its region's text is dropped whole.
            AndNot(bitmask, DropOf(single, limit)!);
            return;
        }

        // Several read tokens: keep what some configuration reads and does not drop.
        var keep = _drop ??= new uint[_vocab.MaskLength];
        var readable = _readable ??= new uint[_vocab.MaskLength];
        var dropped = _dropped ??= new uint[_vocab.MaskLength];
        Array.Clear(keep);
        Array.Clear(dropped);
        for (var c = 0; c < _count; c++)
        {
            if (_current[c] == PdaRunner.FinalNode)
            {
                continue;
            }

            Array.Clear(readable);
            var entry = entries[c]!;
            entry.OrInto(readable, _vocab.Count);
            foreach (var id in entry.Uncertain)
            {
                readable[id >> 5] |= 1u << (id & 31);
            }

            if (DropOf(c, limit) is { } mine)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(dropped, mine, dropped);
                AndNot(readable, mine);
            }

            System.Numerics.Tensors.TensorPrimitives.BitwiseOr(keep, readable, keep);
        }

        // Dropped: text some configuration's region cannot fit, which no configuration keeps.
        AndNot(dropped, keep);
        AndNot(bitmask, dropped);
    }

    /// <summary>The text tokens configuration <paramref name="c"/> is known not to fit with (its region's, read-only), or null when none are known.</summary>
    private uint[]? DropOf(int c, long limit)
    {
        var node = _current[c];
        if (node == PdaRunner.FinalNode)
        {
            return null;
        }

        var state = _runner.StateOf(node);
        if (_budget!.TextRegionOf(_runner.Grammar, state) is not { } region)
        {
            return null;
        }

        var stack = NodeBound(node) - _budget.Finish[state];
        if (stack + region.MinBoundaryFinish <= limit)
        {
            return null; // MinFinish is no larger: nothing is known not to fit from here
        }

        return RegionTokens(region, boundaryOnly: stack + region.MinFinish <= limit);
    }

    /// <summary><paramref name="target"/> &amp;= ~<paramref name="clear"/>, word by word.</summary>
    private static void AndNot(Span<uint> target, uint[] clear)
    {
        for (var w = 0; w < target.Length; w++)
        {
            target[w] &= ~clear[w];
        }
    }

    /// <summary>
    /// The text tokens of <paramref name="region"/> (<see cref="TokenVocabulary.RegionText"/>), ending
    /// on a character boundary with <paramref name="boundaryOnly"/>. Shared: read only.
    /// </summary>
    private uint[] RegionTokens(GrammarBudget.TextRegion region, bool boundaryOnly) =>
        _vocab.RegionText(region.Groups, region.Bounded, boundaryOnly);
}
