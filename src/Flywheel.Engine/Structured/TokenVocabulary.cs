namespace Flywheel.Structured;

/// <summary>
/// A model's vocabulary as raw bytes per token id, with its token trie built once. Null or empty
/// entries are special tokens: never allowed by a grammar mask, except the end-of-sequence ids once
/// the value is complete. Immutable and thread-safe: build one per model and share it.
/// </summary>
public sealed partial class TokenVocabulary
{
    private readonly byte[] _data;     // all token bytes, concatenated
    private readonly int[] _offsets;   // [Count + 1]: token t is _data[_offsets[t].._offsets[t+1]]
    private readonly int[] _eos;

    private TokenVocabulary(byte[] data, int[] offsets, int[] eos, TokenTrie trie)
    {
        _data = data;
        _offsets = offsets;
        _eos = eos;
        Trie = trie;
    }

    /// <summary>Number of token ids (mask bits).</summary>
    public int Count => _offsets.Length - 1;

    /// <summary>Length of a mask in 32-bit words: (Count + 31) / 32.</summary>
    public int MaskLength => (Count + 31) / 32;

    /// <summary>End-of-sequence token ids.</summary>
    public IReadOnlyList<int> EosTokenIds => _eos;

    internal TokenTrie Trie { get; }

    /// <summary>[Count]: each token's index in the trie's token order (-1 for tokens not in the trie), made on first use.</summary>
    internal int[] TriePosition => _triePosition ??= MakeTriePosition();

    private int[]? _triePosition;

    /// <summary>Mask of the tokens of at most <see cref="ByteGroups.BoundDepth"/> bytes, made on first use.</summary>
    internal uint[] ShortTokens => _shortTokens ??= MakeShortTokens();

    private uint[]? _shortTokens;

    private uint[] MakeShortTokens()
    {
        var mask = new uint[MaskLength];
        for (var id = 0; id < Count; id++)
        {
            if (BytesOf(id).Length <= ByteGroups.BoundDepth)
            {
                mask[id >> 5] |= 1u << (id & 31);
            }
        }

        return mask;
    }

    /// <summary>Mask of the tokens that end on a character boundary (<see cref="CharacterEnds.EndsOnBoundary"/>), made on first use.</summary>
    internal uint[] BoundaryTokens => _boundaryTokens ??= MakeBoundaryTokens();

    private uint[]? _boundaryTokens;

    private uint[] MakeBoundaryTokens()
    {
        var mask = new uint[MaskLength];
        for (var id = 0; id < Count; id++)
        {
            if (CharacterEnds.EndsOnBoundary(BytesOf(id)))
            {
                mask[id >> 5] |= 1u << (id & 31);
            }
        }

        return mask;
    }

    private int[] MakeTriePosition()
    {
        var position = new int[Count];
        Array.Fill(position, -1);
        for (var k = 0; k < Trie.Tokens.Length; k++)
        {
            position[Trie.Tokens[k]] = k;
        }

        return position;
    }

    /// <summary>Mask-cache walks inside plain grammar regions, shared by all grammars on this vocabulary.</summary>
    internal RegionWalkCache Regions { get; } = new();

    /// <summary>The count and byte bounds shared by the mask caches of every grammar on this vocabulary.</summary>
    internal MaskCacheBudget MaskBudget { get; } = new();

    /// <summary>
    /// Creates a vocabulary; <paramref name="tokenBytes"/>[i] is token i's bytes (null/empty = special).
    /// Also walks the grammar regions most JSON schemas share (see <see cref="RegionWalkWarmUp"/>), so
    /// creation takes longer (tens of milliseconds on a 128k vocabulary) and first masks less.
    /// </summary>
    public static TokenVocabulary Create(IReadOnlyList<byte[]?> tokenBytes, IReadOnlyCollection<int> eosTokenIds) =>
        Create(tokenBytes, eosTokenIds, warmRegions: true);

    /// <summary>Creates a vocabulary, warming its region cache or not (off only to test that warming changes nothing).</summary>
    internal static TokenVocabulary Create(IReadOnlyList<byte[]?> tokenBytes, IReadOnlyCollection<int> eosTokenIds, bool warmRegions)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        if (tokenBytes.Count == 0)
        {
            throw new ArgumentException("the vocabulary is empty", nameof(tokenBytes));
        }

        foreach (var id in eosTokenIds)
        {
            if (id < 0 || id >= tokenBytes.Count)
            {
                throw new ArgumentOutOfRangeException(nameof(eosTokenIds), $"eos token id {id} is outside the vocabulary (0..{tokenBytes.Count - 1})");
            }
        }

        var offsets = new int[tokenBytes.Count + 1];
        for (var i = 0; i < tokenBytes.Count; i++)
        {
            offsets[i + 1] = offsets[i] + (tokenBytes[i]?.Length ?? 0);
        }

        var data = new byte[offsets[^1]];
        for (var i = 0; i < tokenBytes.Count; i++)
        {
            tokenBytes[i]?.CopyTo(data, offsets[i]);
        }

        // End-of-sequence tokens are never walked as text, even if they have a surface form.
        var eos = eosTokenIds.Distinct().ToArray();
        var trie = TokenTrie.Build(data, offsets, t => Array.IndexOf(eos, t) < 0);
        var vocabulary = new TokenVocabulary(data, offsets, eos, trie);
        if (warmRegions)
        {
            RegionWalkWarmUp.Run(vocabulary);
            vocabulary.BuildSplitTries();
            MaskPathWarmUp.Run(vocabulary);
        }

        return vocabulary;
    }

    /// <summary>The bytes of token <paramref name="tokenId"/> (empty for special tokens).</summary>
    public ReadOnlySpan<byte> BytesOf(int tokenId) => _data.AsSpan(_offsets[tokenId], _offsets[tokenId + 1] - _offsets[tokenId]);

    public bool IsEos(int tokenId) => Array.IndexOf(_eos, tokenId) >= 0;
}

/// <summary>
/// All non-special tokens in a trie laid out in depth-first pre-order: node i's subtree is
/// [i, Skip[i]), and the tokens ending at the nodes of that subtree are
/// Tokens[TokenStart[i]..TokenStart[Skip[i]]), so a dead prefix skips its whole subtree at once.
/// Node 0 is the root (empty prefix).
/// </summary>
internal sealed class TokenTrie
{
    public required byte[] Label { get; init; }      // [NodeCount]
    public required int[] Depth { get; init; }       // [NodeCount]
    public required int[] Skip { get; init; }        // [NodeCount]
    public required int[] TokenStart { get; init; }  // [NodeCount + 1]
    public required int[] Tokens { get; init; }      // token ids in node order

    /// <summary>[NodeCount]: the <see cref="ByteGroups"/> of the rest of every token below node i, from node i's own byte on.</summary>
    public required ulong[] SubtreeGroups { get; init; }

    /// <summary>
    /// [NodeCount]: the longest rest of a token below node i, from node i's own byte on, in moves
    /// (see <see cref="ByteGroups.OfSuffixes"/>: a multi-byte character is one; at most 255): what
    /// bounded text groups, which hold for runs of moves, are compared with.
    /// </summary>
    public required byte[] Height { get; init; }

    /// <summary>[NodeCount]: every token below node i is <see cref="ByteGroups.Text"/> from its first byte on.</summary>
    public required bool[] AllText { get; init; }

    /// <summary>
    /// [NodeCount + 1]: the first node from i on, in node order, that is not <see cref="AllText"/>
    /// (NodeCount when none is), so a walk that has set every text token skips a run of all-text
    /// subtrees in one step rather than one subtree at a time.
    /// </summary>
    public required int[] NextNotText { get; init; }

    /// <summary>Mask (one bit per token id) of the tokens that are <see cref="ByteGroups.Text"/> throughout.</summary>
    public required uint[] TextTokens { get; init; }

    /// <summary>
    /// [<see cref="ByteGroups.Count"/>]: per group of <see cref="ByteGroups.Text"/>, the mask of the
    /// <see cref="TextTokens"/> holding a byte of that group (empty for the other groups). The text
    /// tokens made of groups S only are TextTokens less the union over the groups outside S.
    /// </summary>
    public required uint[][] GroupTokens { get; init; }

    public int NodeCount => Label.Length;

    public int MaxDepth { get; init; }

    /// <summary>
    /// The root's children in node order, with what a walk reads to pass one by: a copy, side by
    /// side, of fields that lie thousands of nodes apart in the node arrays. Made on first use.
    /// </summary>
    public TrieChild[] RootChildren => _rootChildren ??= MakeRootChildren();

    private TrieChild[]? _rootChildren;

    private TrieChild[] MakeRootChildren()
    {
        var children = new List<TrieChild>();
        for (var i = 1; i < NodeCount; i = Skip[i])
        {
            children.Add(new TrieChild(i, Skip[i], SubtreeGroups[i], Label[i], Height[i], AllText[i]));
        }

        return [.. children];
    }

    public static TokenTrie Build(byte[] data, int[] offsets, Func<int, bool> include)
    {
        var count = offsets.Length - 1;
        var ids = Enumerable.Range(0, count).Where(t => offsets[t + 1] > offsets[t] && include(t)).ToArray();
        Array.Sort(ids, (a, b) =>
        {
            var c = data.AsSpan(offsets[a], offsets[a + 1] - offsets[a]).SequenceCompareTo(data.AsSpan(offsets[b], offsets[b + 1] - offsets[b]));
            return c != 0 ? c : a.CompareTo(b);
        });

        var label = new List<byte> { 0 };
        var depth = new List<int> { 0 };
        var groups = new List<ulong> { 0 };
        var height = new List<byte> { 0 };
        var notText = new List<bool> { false };
        var textTokens = new uint[(count + 31) / 32];
        var groupTokens = new uint[ByteGroups.Count][];
        for (var g = 0; g < ByteGroups.Count; g++)
        {
            groupTokens[g] = (ByteGroups.Text & (1ul << g)) != 0 ? new uint[textTokens.Length] : [];
        }

        var suffixGroups = new ulong[64];
        var suffixMoves = new int[64];
        var tokenNode = new int[ids.Length];
        var path = new List<int> { 0 };   // path[d] = node at depth d on the current branch
        var prev = ReadOnlySpan<byte>.Empty;
        var maxDepth = 0;
        for (var k = 0; k < ids.Length; k++)
        {
            var bytes = data.AsSpan(offsets[ids[k]], offsets[ids[k] + 1] - offsets[ids[k]]);
            var lcp = bytes.CommonPrefixLength(prev);
            path.RemoveRange(lcp + 1, path.Count - lcp - 1);
            for (var d = lcp; d < bytes.Length; d++)
            {
                path.Add(label.Count);
                label.Add(bytes[d]);
                depth.Add(d + 1);
                groups.Add(0);
                height.Add(0);
                notText.Add(false);
            }

            if (suffixGroups.Length < bytes.Length)
            {
                suffixGroups = new ulong[bytes.Length * 2];
                suffixMoves = new int[bytes.Length * 2];
            }

            ByteGroups.OfSuffixes(bytes, suffixGroups, suffixMoves);
            var text = (suffixGroups[0] & ~ByteGroups.Text) == 0;
            for (var d = 0; d < bytes.Length; d++)
            {
                groups[path[d + 1]] |= suffixGroups[d];
                height[path[d + 1]] = (byte)Math.Max(height[path[d + 1]], Math.Min(suffixMoves[d], 255));
                notText[path[d + 1]] |= !text;
            }

            if (text)
            {
                var bit = 1u << (ids[k] & 31);
                textTokens[ids[k] >> 5] |= bit;
                for (var set = suffixGroups[0]; set != 0; set &= set - 1)
                {
                    groupTokens[System.Numerics.BitOperations.TrailingZeroCount(set)][ids[k] >> 5] |= bit;
                }
            }

            tokenNode[k] = path[bytes.Length];
            maxDepth = Math.Max(maxDepth, bytes.Length);
            prev = bytes;
        }

        var nodes = label.Count;
        var skip = new int[nodes];
        var open = new Stack<int>();
        for (var i = 0; i < nodes; i++)
        {
            while (open.Count > 0 && depth[open.Peek()] >= depth[i])
            {
                skip[open.Pop()] = i;
            }

            open.Push(i);
        }

        while (open.Count > 0)
        {
            skip[open.Pop()] = nodes;
        }

        var nextNotText = new int[nodes + 1];
        nextNotText[nodes] = nodes;
        for (var i = nodes - 1; i >= 0; i--)
        {
            nextNotText[i] = notText[i] ? i : nextNotText[i + 1];
        }

        // Tokens were visited in node order, so each node's tokens are contiguous.
        var tokenStart = new int[nodes + 1];
        foreach (var n in tokenNode)
        {
            tokenStart[n + 1]++;
        }

        for (var i = 0; i < nodes; i++)
        {
            tokenStart[i + 1] += tokenStart[i];
        }

        return new TokenTrie
        {
            Label = [.. label],
            Depth = [.. depth],
            Skip = skip,
            TokenStart = tokenStart,
            Tokens = ids,
            SubtreeGroups = [.. groups],
            Height = [.. height],
            AllText = [.. notText.Select(n => !n)],
            NextNotText = nextNotText,
            TextTokens = textTokens,
            GroupTokens = groupTokens,
            MaxDepth = maxDepth,
        };
    }
}

/// <summary>A copy of one trie node's fields (see <see cref="TokenTrie"/>), kept beside its siblings'.</summary>
internal readonly record struct TrieChild(int Node, int Skip, ulong SubtreeGroups, byte Label, byte Height, bool AllText);
