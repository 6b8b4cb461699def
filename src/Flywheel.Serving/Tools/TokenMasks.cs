namespace Flywheel.Serving.Tools;

/// <summary>Bit operations the tool-call constraints share on token masks (bit id &amp; 31 of word id / 32).</summary>
internal static class TokenMasks
{
    /// <summary>Allows every token of a vocabulary of <paramref name="vocabularyCount"/> ids, and no id past it.</summary>
    public static void AllowAll(Span<uint> bitmask, int vocabularyCount)
    {
        bitmask.Fill(uint.MaxValue);
        var last = vocabularyCount & 31;
        if (last != 0)
        {
            bitmask[^1] = (1u << last) - 1;
        }
    }

    /// <summary>Adds the tokens of <paramref name="other"/> to <paramref name="bitmask"/>.</summary>
    public static void Or(Span<uint> bitmask, ReadOnlySpan<uint> other)
    {
        for (var w = 0; w < bitmask.Length; w++)
        {
            bitmask[w] |= other[w];
        }
    }
}
