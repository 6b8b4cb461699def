namespace Flywheel.Structured;

/// <summary>
/// The largest <see cref="TokenRise"/> over the tokens one cache entry can accept: a configuration
/// reads no other tokens, so its bound after any token it reads is at most its bound plus that
/// rise, most often far below the largest rise over the whole vocabulary.
/// </summary>
internal sealed partial class GrammarBudget
{
    /// <summary>Returned by <see cref="RememberMaxRiseOf"/> when the entry accepts no token outside the text left out.</summary>
    public const int NoToken = int.MinValue;

    /// <summary>
    /// Works out the largest rise over the tokens <paramref name="entry"/> accepts or leaves to the
    /// stack, less those in <paramref name="outside"/> (the text of the set <paramref name="key"/> names;
    /// null when none), or <see cref="NoToken"/>, and remembers it on the entry, where the caller
    /// looks first (<see cref="MaskCache.Entry.TryGetMaxRise"/>).
    /// </summary>
    public int RememberMaxRiseOf(MaskCache.Entry entry, MaskCache.RiseKey key, uint[]? outside)
    {
        var max = entry.MaxRise(TokenRise, WordRise, outside, NoToken, TokenSlack);
        entry.RememberMaxRise(TokenRise, key, max);
        return max;
    }

    /// <summary>The least rise <see cref="ClampedRise"/> tells apart (a token's rise is at least minus its length).</summary>
    public const int ClampLow = -64;

    private static byte[] ClampedRiseOf(int[] rise)
    {
        var clamped = new byte[(rise.Length + 31) / 32 * 32];
        for (var id = 0; id < rise.Length; id++)
        {
            clamped[id] = (byte)(Math.Clamp(rise[id], ClampLow, ClampLow + 255) - ClampLow);
        }

        return clamped;
    }

    /// <summary>Per word of 32 token ids (a mask word), the largest <see cref="TokenRise"/> among them.</summary>
    private static int[] WordRiseOf(int[] rise)
    {
        var wordRise = new int[(rise.Length + 31) / 32];
        Array.Fill(wordRise, NoToken);
        for (var id = 0; id < rise.Length; id++)
        {
            wordRise[id >> 5] = Math.Max(wordRise[id >> 5], rise[id]);
        }

        return wordRise;
    }
}
