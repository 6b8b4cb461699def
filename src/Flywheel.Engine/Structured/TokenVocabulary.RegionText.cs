using System.Collections.Concurrent;

namespace Flywheel.Structured;

/// <summary>
/// The text token sets of budget text regions (<see cref="GrammarBudget.TextRegion"/>), kept per
/// vocabulary: a tight mask needs the set of its configurations' regions at every step, and the
/// few distinct group combinations of all grammars share them rather than rebuild one in passes
/// over the vocabulary each time.
/// </summary>
public sealed partial class TokenVocabulary
{
    /// <summary>Sets kept at most; past it a set is built anew for each call.</summary>
    internal const int MaxRegionTextSets = 256;

    private readonly ConcurrentDictionary<(ulong Groups, bool Bounded, bool BoundaryOnly), uint[]> _regionText = new();

    /// <summary>
    /// The text tokens made of <paramref name="groups"/> only (all text tokens less those with a byte
    /// of another group), of at most <see cref="ByteGroups.BoundDepth"/> bytes with
    /// <paramref name="bounded"/>, and ending on a character boundary with <paramref name="boundaryOnly"/>.
    /// The array is shared: callers only read it.
    /// </summary>
    internal uint[] RegionText(ulong groups, bool bounded, bool boundaryOnly)
    {
        var key = (groups, bounded, boundaryOnly);
        if (_regionText.TryGetValue(key, out var known))
        {
            return known;
        }

        var built = new uint[MaskLength];
        BuildRegionText(key, built);
        return _regionText.Count >= MaxRegionTextSets ? built : _regionText.GetOrAdd(key, built); // a race builds an equal set twice
    }

    private void BuildRegionText((ulong Groups, bool Bounded, bool BoundaryOnly) key, uint[] set)
    {
        Array.Clear(set);
        for (var missing = ByteGroups.Text & ~key.Groups; missing != 0; missing &= missing - 1)
        {
            System.Numerics.Tensors.TensorPrimitives.BitwiseOr(set, Trie.GroupTokens[System.Numerics.BitOperations.TrailingZeroCount(missing)], set);
        }

        System.Numerics.Tensors.TensorPrimitives.OnesComplement(set, set);
        System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(set, Trie.TextTokens, set);
        if (key.Bounded)
        {
            System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(set, ShortTokens, set);
        }

        if (key.BoundaryOnly)
        {
            System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(set, BoundaryTokens, set);
        }
    }
}
