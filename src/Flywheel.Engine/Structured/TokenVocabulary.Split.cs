namespace Flywheel.Structured;

/// <summary>The vocabulary's trie split by token length, for <see cref="MaskCache"/>'s short-token sharing.</summary>
public sealed partial class TokenVocabulary
{
    private TokenTrie? _shortTrie, _longTrie;

    /// <summary>Whether some token is longer than <see cref="MaskCache.ShortTokenBytes"/> (else the split shares nothing new).</summary>
    internal bool HasLongTokens => Trie.MaxDepth > MaskCache.ShortTokenBytes;

    /// <summary>The trie of the tokens of at most <see cref="MaskCache.ShortTokenBytes"/> bytes, made on first use.</summary>
    internal TokenTrie ShortTrie => _shortTrie ??= BuildTrie(longTokens: false);

    /// <summary>The trie of the tokens longer than <see cref="MaskCache.ShortTokenBytes"/> bytes, made on first use.</summary>
    internal TokenTrie LongTrie => _longTrie ??= BuildTrie(longTokens: true);

    /// <summary>
    /// Region walks over <see cref="ShortTrie"/>, shared by all grammars on this vocabulary (see
    /// <see cref="MaskCache"/>'s short-token split); a quarter of <see cref="Regions"/>' byte bound, as
    /// a short walk's region is small and its mask holds the short tokens only.
    /// </summary>
    internal RegionWalkCache ShortRegions { get; } = new(maxBytes: RegionWalkCache.DefaultMaxBytes / 4);

    /// <summary>Builds the split tries now when some token is long, so no first mask pays for them.</summary>
    private void BuildSplitTries()
    {
        if (HasLongTokens)
        {
            _ = ShortTrie;
            _ = LongTrie;
        }
    }

    // A race builds a trie twice; both are equal and immutable, so either may be kept.
    private TokenTrie BuildTrie(bool longTokens) =>
        TokenTrie.Build(_data, _offsets, t => Array.IndexOf(_eos, t) < 0 && (_offsets[t + 1] - _offsets[t] > MaskCache.ShortTokenBytes) == longTokens);
}
