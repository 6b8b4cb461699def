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
public sealed partial class GrammarMatcher
{
    private const int CompactAboveNodes = 1 << 20;

    private readonly TokenVocabulary _vocab;
    private readonly MaskCache _cache;
    private readonly PdaRunner _runner;
    private readonly TrieWalker _walker;
    private int[] _current;
    private int _count;
    private MaskCache.Entry?[] _entries = new MaskCache.Entry?[4];
    private readonly int[] _prefixStart;  // ResolveUncertain: per depth, the set after that many bytes
    private readonly int[] _prefixCount;
    private readonly int[] _prefixMark;
    private readonly int[] _prefixPlain;  // per depth: the state of a lone plain configuration (not in Sets), or -1
    private readonly int[] _prefixParent; // per depth, with a plain state: its stack (a runner node)
    private readonly long[] _prefixStack; // per depth, with a plain state and a budget: NodeBound of that stack

    /// <summary>Creates a matcher at the start of the document.</summary>
    public GrammarMatcher(JsonSchemaGrammar grammar, TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(grammar);
        ArgumentNullException.ThrowIfNull(vocabulary);
        _vocab = vocabulary;
        _cache = grammar.CacheFor(vocabulary);
        _runner = new PdaRunner(grammar.Compiled);
        _walker = new TrieWalker(vocabulary.Trie);
        (_prefixStart, _prefixCount, _prefixMark, _prefixPlain, _prefixParent, _prefixStack) = PrefixScratch(vocabulary);
        _count = _runner.Start(0);
        _current = _runner.Sets[.._count];
    }

    /// <summary>
    /// Creates a matcher at the start of the document that ends it within <paramref name="tokenBudget"/>
    /// tokens (the request's max_tokens): while tokens are plentiful masks are as without a budget;
    /// near the end only tokens after which the document can still close in the tokens left are
    /// allowed, so every answer that runs to the budget is complete and valid. Where the vocabulary
    /// cannot bound it (<see cref="JsonSchemaGrammar.MinimumTokens"/> is null) the budget is ignored.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The budget is below <see cref="JsonSchemaGrammar.MinimumTokens"/>.</exception>
    public GrammarMatcher(JsonSchemaGrammar grammar, TokenVocabulary vocabulary, int tokenBudget)
        : this(grammar, vocabulary)
    {
        var budget = grammar.BudgetFor(vocabulary);
        if (budget.Minimum >= GrammarBudget.Unbounded)
        {
            return; // this vocabulary cannot bound the tokens left (MinimumTokens is null): no budget
        }

        if (tokenBudget < budget.Minimum)
        {
            throw new ArgumentOutOfRangeException(nameof(tokenBudget), tokenBudget, $"the shortest document of this schema needs {budget.Minimum} tokens");
        }

        _budget = budget;
        _remaining = tokenBudget;
    }

    private GrammarMatcher(GrammarMatcher other)
    {
        _vocab = other._vocab;
        _cache = other._cache;
        _runner = other._runner.Clone();
        _walker = new TrieWalker(other._vocab.Trie);
        (_prefixStart, _prefixCount, _prefixMark, _prefixPlain, _prefixParent, _prefixStack) = PrefixScratch(other._vocab);
        _current = (int[])other._current.Clone();
        _count = other._count;
        IsTerminated = other.IsTerminated;
        _budget = other._budget;
        _remaining = other._remaining;
    }

    private static (int[], int[], int[], int[], int[], long[]) PrefixScratch(TokenVocabulary vocabulary)
    {
        var depth = vocabulary.Trie.MaxDepth + 2;
        return (new int[depth], new int[depth], new int[depth], new int[depth], new int[depth], new long[depth]);
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

        var profile = Profile;
        profile?.Reset();
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

            var t0 = profile is null ? 0 : MaskProfile.Now();
            if (profile is not null && !_cache.Has(_runner.StateOf(node)))
            {
                profile.CacheMisses++;
            }

            var entry = _cache.Get(_runner.StateOf(node), _runner, _walker, scratch);
            if (_budget is not null)
            {
                if (_entries.Length < _count)
                {
                    _entries = new MaskCache.Entry?[_count * 2];
                }

                _entries[c] = entry; // what each configuration can read, for the budget's mask
            }

            entry.OrInto(bitmask, _vocab.Count);
            var t1 = profile is null ? 0 : MaskProfile.Now();
            ResolveUncertain(node, entry.Uncertain, scratch, bitmask);
            if (profile is not null)
            {
                var t2 = MaskProfile.Now();
                profile.Configurations++;
                profile.Uncertain += entry.Uncertain.Length;
                profile.CacheTicks += t1 - t0;
                profile.ResolveTicks += t2 - t1;
            }
        }

        var t3 = profile is null ? 0 : MaskProfile.Now();
        var tight = _budget is not null && IsTight(_entries);
        if (profile is not null)
        {
            profile.TightTestTicks = MaskProfile.Now() - t3;
        }

        if (tight)
        {
            KeepTokensThatFit(bitmask);
            if (profile is not null)
            {
                profile.Tight = true;
            }
        }

        if (profile is not null)
        {
            profile.BudgetTicks = MaskProfile.Now() - t3;
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

        if (_budget is not null && IsTight())
        {
            return Fits(bytes);
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

        _remaining--;
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

    /// <summary>Advances the <paramref name="count"/> configurations at <paramref name="src"/> by each byte in turn; where they end and how many survive (0 = dead).</summary>
    private (int Src, int Count) Run(int src, int count, ReadOnlySpan<byte> bytes)
    {
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

        return (src, count);
    }

    /// <summary>Runs <paramref name="bytes"/> from one configuration on scratch storage; true if it survives.</summary>
    private bool Accepts(int node, ReadOnlySpan<byte> bytes, int scratch)
    {
        var mark = _runner.NodeCount;
        _runner.EnsureSets(scratch + 1);
        _runner.Sets[scratch] = node;
        var (_, count) = Run(scratch, 1, bytes);

        _runner.NodeCount = mark;
        return count > 0;
    }
}
