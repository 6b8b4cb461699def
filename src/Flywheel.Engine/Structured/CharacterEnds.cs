namespace Flywheel.Structured;

/// <summary>
/// A byte-level automaton that tells whether a byte run ends on a character boundary as seen from
/// its own first byte: <see cref="Boundary"/> after an ASCII byte or a multi-byte sequence completed
/// by its continuation bytes, else how many continuation bytes are still due, or
/// <see cref="Unknown"/> before any lead byte (continuation bytes then may finish a character an
/// earlier token began). Tokens are classified with it (<see cref="TokenVocabulary.BoundaryTokens"/>)
/// and the budget's text regions are explored with it (<see cref="GrammarBudget.TextRegionOf"/>):
/// a token that ends at <see cref="Boundary"/> read from a state leaves the grammar in a state the
/// exploration reached at <see cref="Boundary"/> too, because both follow the same moves. That holds
/// for any byte run, valid UTF-8 or not; UTF-8 only makes the boundary states the common ones.
/// </summary>
internal static class CharacterEnds
{
    /// <summary>After a whole character.</summary>
    public const int Boundary = 0;

    /// <summary>No lead byte or ASCII byte seen yet (or after a stray continuation byte).</summary>
    public const int Unknown = 4;

    /// <summary>Positions: <see cref="Boundary"/>, 1-3 continuation bytes due, <see cref="Unknown"/>.</summary>
    public const int Count = 5;

    /// <summary>The position after <paramref name="b"/> from <paramref name="position"/>.</summary>
    public static int Next(int position, byte b) => b switch
    {
        < 0x80 => Boundary,
        < 0xC0 => position is > Boundary and < Unknown ? position - 1 : Unknown,
        < 0xE0 => 1,
        < 0xF0 => 2,
        < 0xF8 => 3,
        _ => Unknown,
    };

    /// <summary>Whether <paramref name="bytes"/>, read from <see cref="Unknown"/>, ends at <see cref="Boundary"/>.</summary>
    public static bool EndsOnBoundary(ReadOnlySpan<byte> bytes)
    {
        var position = Unknown;
        foreach (var b in bytes)
        {
            position = Next(position, b);
        }

        return position == Boundary;
    }
}
