namespace Flywheel.Structured;

/// <summary>
/// Plain regions a string state reads text tokens in (<see cref="GrammarBudget.TextRegionFinish"/>):
/// the near-the-budget masks keep such tokens as a bit-set operation when the region's bound fits.
/// </summary>
internal sealed partial class GrammarBudget
{
    private int[]? _textRegionFinish;

    /// <summary>
    /// The text groups of <paramref name="state"/> that a token made of them only may be read with
    /// (<see cref="CompiledGrammar.TextGroupsOf"/>, or when those are none the groups of runs up to
    /// <see cref="ByteGroups.BoundDepth"/> bytes, <paramref name="bounded"/> then set: the token must
    /// be that short), and the largest <see cref="Finish"/> over the plain states such tokens reach,
    /// <paramref name="state"/> included; -1 when there are no such groups. Such a token leaves a
    /// configuration at one of those states on the same stack, so its bound after is at most this
    /// plus the stack's. The finish is worked out per state on first use (racing threads agree).
    /// </summary>
    public int TextRegionFinish(CompiledGrammar g, int state, out ulong groups, out bool bounded)
    {
        groups = 0;
        bounded = false;
        if (g.Flags[state] != CompiledGrammar.FlagBytes)
        {
            return -1;
        }

        groups = g.TextGroupsOf(state);
        if (groups == 0)
        {
            groups = g.BoundedTextGroupsOf(state);
            bounded = true;
        }

        if (groups == 0)
        {
            return -1;
        }

        var known = _textRegionFinish ??= NewUnknown(g.StateCount);
        if (known[state] == int.MinValue)
        {
            known[state] = RegionFinish(g, state, groups, bounded ? ByteGroups.BoundDepth : int.MaxValue);
        }

        return known[state];
    }

    /// <summary>
    /// Breadth first from <paramref name="state"/> over every byte that can be part of a run of
    /// <paramref name="groups"/> (any byte from 0x80 when multi-byte characters are among them), up
    /// to <paramref name="depth"/> bytes, through plain states: more states than the runs reach, never fewer.
    /// </summary>
    private int RegionFinish(CompiledGrammar g, int state, ulong groups, int depth)
    {
        var bytes = Enumerable.Range(0, 256).Where(b => b < 0x80
            ? (ByteGroups.OfAscii((byte)b) & groups) != 0
            : (groups & ByteGroups.MultiByteChar) != 0).Select(b => (byte)b).ToArray();
        var seen = new HashSet<int> { state };
        var level = new List<int> { state };
        var max = Finish[state];
        for (var d = 0; d < depth && level.Count > 0; d++)
        {
            var next = new List<int>();
            foreach (var s in level)
            {
                foreach (var b in bytes)
                {
                    var to = g.Move(s, b);
                    if (to >= 0 && g.Flags[to] == CompiledGrammar.FlagBytes && seen.Add(to))
                    {
                        max = Math.Max(max, Finish[to]);
                        next.Add(to);
                    }
                }
            }

            level = next;
        }

        return max;
    }

    private static int[] NewUnknown(int count)
    {
        var a = new int[count];
        Array.Fill(a, int.MinValue);
        return a;
    }
}
