namespace Flywheel.Structured;

/// <summary>
/// Plain regions a string state reads text tokens in (<see cref="GrammarBudget.TextRegionOf"/>):
/// the near-the-budget masks keep such tokens as a bit-set operation when the region's bound fits,
/// and drop them the same way when it cannot.
/// </summary>
internal sealed partial class GrammarBudget
{
    private TextRegion?[]? _textRegions;

    /// <summary>
    /// The text tokens <paramref name="state"/> reads within a plain region, and the finish values
    /// of the states they can leave a configuration in; null when the state reads no text group.
    /// <see cref="TextRegion.Groups"/> are <see cref="CompiledGrammar.TextGroupsOf"/>, or when those are
    /// none the groups of runs up to <see cref="ByteGroups.BoundDepth"/> bytes (<see cref="TextRegion.Bounded"/>:
    /// the token must be that short). A token made of them only leaves a configuration at one of the
    /// region's plain states on the same stack, so its bound after lies between the region's least and
    /// largest <see cref="Finish"/> plus the stack's. Tokens that end on a character boundary
    /// (<see cref="CharacterEnds"/>) end in the region's boundary states only: inside a string the states
    /// part-way through a multi-byte character need a few bytes more than the rest, and most tokens never
    /// end there. Worked out per state on first use; racing threads agree.
    /// </summary>
    public TextRegion? TextRegionOf(CompiledGrammar g, int state)
    {
        if (g.Flags[state] != CompiledGrammar.FlagBytes)
        {
            return null;
        }

        var known = _textRegions ??= new TextRegion?[g.StateCount];
        if (Volatile.Read(ref known[state]) is { } region)
        {
            return region.Groups == 0 ? null : region;
        }

        var (groups, bounded) = (g.TextGroupsOf(state), false);
        if (groups == 0)
        {
            (groups, bounded) = (g.BoundedTextGroupsOf(state), true);
        }

        region = groups == 0 ? new TextRegion(0, false, -1, -1, -1, -1) : RegionFinish(g, state, groups, bounded);
        Volatile.Write(ref known[state], region);
        return region.Groups == 0 ? null : region;
    }

    /// <summary>
    /// A plain region's text (see <see cref="TextRegionOf"/>): its groups, whether its tokens must be short,
    /// and the largest and least <see cref="Finish"/> over the states its tokens end in (all of them, and
    /// those reached on a character boundary; the largest includes the state itself).
    /// </summary>
    internal sealed record TextRegion(ulong Groups, bool Bounded, int MaxFinish, int MaxBoundaryFinish, int MinFinish, int MinBoundaryFinish)
    {
        /// <summary>
        /// Whether this region's text keeps a configuration's bound within <paramref name="limit"/>, its
        /// stack below the region's frame needing <paramref name="stack"/>: all of it, or (with
        /// <paramref name="boundaryOnly"/>) the tokens ending on a character boundary; <paramref name="most"/>
        /// is the largest bound after such text.
        /// </summary>
        public bool TryFit(long stack, long limit, out bool boundaryOnly, out long most)
        {
            (boundaryOnly, most) = stack + MaxFinish <= limit ? (false, stack + MaxFinish) : (true, stack + MaxBoundaryFinish);
            return most <= limit;
        }
    }

    /// <summary>
    /// Breadth first from <paramref name="state"/> over every byte that can be part of a run of
    /// <paramref name="groups"/> (any byte from 0x80 when multi-byte characters are among them), up
    /// to <see cref="ByteGroups.BoundDepth"/> bytes when <paramref name="bounded"/>, through plain
    /// states: more states than the runs reach, never fewer, so the largest finish is never too small
    /// nor the least too large. Each state is visited with the run's <see cref="CharacterEnds"/>
    /// position, so both are known over all states reached and over those reached on a boundary.
    /// </summary>
    private TextRegion RegionFinish(CompiledGrammar g, int state, ulong groups, bool bounded)
    {
        var depth = bounded ? ByteGroups.BoundDepth : int.MaxValue;
        var bytes = RepresentativeBytes(g, groups);
        var start = (state * CharacterEnds.Count) + CharacterEnds.Unknown;
        var seen = new HashSet<int> { start };
        var level = new List<int> { start };
        var next = new List<int>();
        var (max, maxBoundary, min, minBoundary) = (Finish[state], -1, Unbounded, Unbounded);
        for (var d = 0; d < depth && level.Count > 0; d++)
        {
            next.Clear();
            foreach (var pair in level)
            {
                var (s, position) = Math.DivRem(pair, CharacterEnds.Count);
                foreach (var b in bytes)
                {
                    var to = g.Move(s, b);
                    if (to < 0 || g.Flags[to] != CompiledGrammar.FlagBytes)
                    {
                        continue;
                    }

                    var after = CharacterEnds.Next(position, b);
                    if (seen.Add((to * CharacterEnds.Count) + after))
                    {
                        (max, min) = (Math.Max(max, Finish[to]), Math.Min(min, Finish[to]));
                        if (after == CharacterEnds.Boundary)
                        {
                            (maxBoundary, minBoundary) = (Math.Max(maxBoundary, Finish[to]), Math.Min(minBoundary, Finish[to]));
                        }

                        next.Add((to * CharacterEnds.Count) + after);
                    }
                }
            }

            (level, next) = (next, level);
        }

        return new TextRegion(groups, bounded, max, maxBoundary, min, minBoundary);
    }

    /// <summary>
    /// The bytes of <paramref name="groups"/> (see <see cref="RegionFinish"/>), one for each pair of
    /// byte class and <see cref="CharacterEnds"/> kind: a move depends on the byte's class only and
    /// the position after it on its kind only (ASCII, continuation, 2-, 3-, 4-byte lead, other), so
    /// the others reach the same pairs again. Typically a few dozen bytes instead of over two hundred.
    /// </summary>
    private static byte[] RepresentativeBytes(CompiledGrammar g, ulong groups)
    {
        Span<byte> picked = stackalloc byte[256];
        Span<bool> seen = stackalloc bool[256 * 6];
        var count = 0;
        for (var b = 0; b < 256; b++)
        {
            var inGroups = b < 0x80 ? (ByteGroups.OfAscii((byte)b) & groups) != 0 : (groups & (ByteGroups.MultiByteChar | ByteGroups.AstralChar)) != 0;
            var pair = (g.ClassOf[b] * 6) + KindOf((byte)b);
            if (inGroups && !seen[pair])
            {
                seen[pair] = true;
                picked[count++] = (byte)b;
            }
        }

        return picked[..count].ToArray();
    }

    /// <summary>The byte ranges <see cref="CharacterEnds.Next"/> tells apart, whatever the position.</summary>
    private static int KindOf(byte b) => b switch
    {
        < 0x80 => 0,
        < 0xC0 => 1,
        < 0xE0 => 2,
        < 0xF0 => 3,
        < 0xF8 => 4,
        _ => 5,
    };
}
