namespace Flywheel.Structured;

/// <summary>
/// Constrains one request's generation to a <see cref="JsonSchemaGrammar"/>: computes the mask of
/// allowed next tokens and advances on the sampled one. A token is allowed only if all its bytes
/// are accepted and the result can still be completed, so generation never reaches a dead end.
/// End-of-sequence tokens are allowed exactly when <see cref="IsComplete"/>. Not thread-safe (one
/// per request, used by the engine thread); the per-state mask cache behind it is shared by all
/// matchers of the same grammar and vocabulary. No allocation per token in steady state (cache
/// misses allocate their entry).
/// </summary>
public sealed class GrammarMatcher
{
    private const int CompactAboveNodes = 1 << 20;

    private readonly TokenVocabulary _vocab;
    private readonly MaskCache _cache;
    private readonly PdaRunner _runner;
    private readonly TrieWalker _walker;
    private int[] _current;
    private int _count;

    /// <summary>Creates a matcher at the start of the document.</summary>
    public GrammarMatcher(JsonSchemaGrammar grammar, TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(vocabulary);
        _vocab = vocabulary;
        _cache = grammar.CacheFor(vocabulary);
        _runner = new PdaRunner(grammar.Compiled);
        _walker = new TrieWalker(vocabulary.Trie);
        _count = _runner.Start(0);
        _current = _runner.Sets[.._count];
    }

    private GrammarMatcher(GrammarMatcher other)
    {
        _vocab = other._vocab;
        _cache = other._cache;
        _runner = other._runner.Clone();
        _walker = new TrieWalker(other._vocab.Trie);
        _current = (int[])other._current.Clone();
        _count = other._count;
        IsTerminated = other.IsTerminated;
    }

    /// <summary>True when the tokens so far form a complete, valid document (end-of-sequence is allowed).</summary>
    public bool IsComplete => Array.IndexOf(_current, PdaRunner.FinalNode, 0, _count) >= 0;

    /// <summary>True once an end-of-sequence token was accepted; nothing is allowed after.</summary>
    public bool IsTerminated { get; private set; }

    /// <summary>Mask length in 32-bit words for this vocabulary.</summary>
    public int MaskLength => _vocab.MaskLength;

    /// <summary>
    /// Writes the allowed-token bitmask: bit (id &amp; 31) of word id / 32 set = token id allowed.
    /// <paramref name="bitmask"/> must hold at least <see cref="MaskLength"/> words.
    /// </summary>
    public void ComputeMask(Span<uint> bitmask)
    {
        if (bitmask.Length < _vocab.MaskLength)
        {
            throw new ArgumentException($"the mask needs {_vocab.MaskLength} words", nameof(bitmask));
        }

        bitmask = bitmask[.._vocab.MaskLength];
        bitmask.Clear();
        if (IsTerminated)
        {
            return;
        }

        var scratch = _count;
        for (var c = 0; c < _count; c++)
        {
            var node = _current[c];
            if (node == PdaRunner.FinalNode)
            {
                foreach (var eos in _vocab.EosTokenIds)
                {
                    bitmask[eos >> 5] |= 1u << (eos & 31);
                }

                continue;
            }

            var entry = _cache.Get(_runner.StateOf(node), _runner, _walker, scratch);
            entry.OrInto(bitmask, _vocab.Count);
            foreach (var id in entry.Uncertain)
            {
                if ((bitmask[id >> 5] & (1u << (id & 31))) == 0 && Accepts(node, _vocab.BytesOf(id), scratch))
                {
                    bitmask[id >> 5] |= 1u << (id & 31);
                }
            }
        }
    }

    /// <summary>Whether <paramref name="tokenId"/> is allowed now (same answer as the mask).</summary>
    public bool IsAllowed(int tokenId)
    {
        if (IsTerminated || (uint)tokenId >= (uint)_vocab.Count)
        {
            return false;
        }

        if (_vocab.IsEos(tokenId))
        {
            return IsComplete;
        }

        var bytes = _vocab.BytesOf(tokenId);
        if (bytes.IsEmpty)
        {
            return false;
        }

        for (var c = 0; c < _count; c++)
        {
            if (Accepts(_current[c], bytes, _count))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Advances on <paramref name="tokenId"/> if allowed; otherwise returns false and changes nothing.</summary>
    public bool TryAccept(int tokenId)
    {
        if (!IsAllowed(tokenId))
        {
            return false;
        }

        if (_vocab.IsEos(tokenId))
        {
            IsTerminated = true;
            return true;
        }

        var src = 0;
        var count = _count;
        _runner.EnsureSets(count);
        _current.AsSpan(0, count).CopyTo(_runner.Sets);
        foreach (var b in _vocab.BytesOf(tokenId))
        {
            var dst = src + count;
            count = _runner.Advance(src, count, b, dst);
            src = dst;
        }

        if (_current.Length < count)
        {
            _current = new int[count * 2];
        }

        _runner.Sets.AsSpan(src, count).CopyTo(_current);
        _count = count;
        if (_runner.NodeCount > CompactAboveNodes)
        {
            _runner.Compact(_current.AsSpan(0, _count));
        }

        return true;
    }

    /// <summary>An independent copy at the same position (for lookahead or rollback).</summary>
    public GrammarMatcher Clone() => new(this);

    /// <summary>Runs <paramref name="bytes"/> from one configuration on scratch storage; true if it survives.</summary>
    private bool Accepts(int node, ReadOnlySpan<byte> bytes, int scratch)
    {
        var mark = _runner.NodeCount;
        _runner.EnsureSets(scratch + 1);
        _runner.Sets[scratch] = node;
        var src = scratch;
        var count = 1;
        foreach (var b in bytes)
        {
            var dst = src + count;
            count = _runner.Advance(src, count, b, dst);
            src = dst;
            if (count == 0)
            {
                break;
            }
        }

        _runner.NodeCount = mark;
        return count > 0;
    }
}
