namespace Flywheel.Structured;

/// <summary>
/// The multi-byte side of <see cref="ByteGroups"/>: the UTF-8 encodings (<see cref="ByteGroups.MultiByteChar"/>
/// for two and three bytes, <see cref="ByteGroups.AstralChar"/> for four), how a token's bytes split into
/// them, and how a state's moves on a whole character are followed.
/// </summary>
internal static partial class ByteGroups
{
    /// <summary>Byte ranges of every multi-byte UTF-8 form: the lead byte's range, then each continuation's.</summary>
    private static readonly (byte Lo, byte Hi)[][] MultiByteForms =
    [
        [(0xC2, 0xDF), (0x80, 0xBF)],
        [(0xE0, 0xE0), (0xA0, 0xBF), (0x80, 0xBF)],
        [(0xE1, 0xEC), (0x80, 0xBF), (0x80, 0xBF)],
        [(0xED, 0xED), (0x80, 0x9F), (0x80, 0xBF)],
        [(0xEE, 0xEF), (0x80, 0xBF), (0x80, 0xBF)],
        [(0xF0, 0xF0), (0x90, 0xBF), (0x80, 0xBF), (0x80, 0xBF)],
        [(0xF1, 0xF3), (0x80, 0xBF), (0x80, 0xBF), (0x80, 0xBF)],
        [(0xF4, 0xF4), (0x80, 0x8F), (0x80, 0xBF), (0x80, 0xBF)],
    ];

    /// <summary>
    /// Follows multi-byte form <paramref name="f"/> (byte classes <paramref name="form"/>) from
    /// <paramref name="state"/>: true when every character of it moves through plain states only,
    /// with the states it ends in left in <paramref name="current"/>; false as soon as one does not.
    /// </summary>
    private static bool FollowForm(CompiledGrammar g, int state, int f, byte[][] form, ref List<int> current, ref List<int> after)
    {
        current.Clear();
        current.Add(state);
        for (var k = 0; k < form.Length; k++)
        {
            after.Clear();
            if (k > 0 && MultiByteForms[f][k] == (0x80, 0xBF))
            {
                // The rest are whole continuation ranges: where they lead from each state is
                // shared by every form and state that reaches it.
                foreach (var s in current)
                {
                    if (Continuations(g, s, form.Length - k, form[k]) is not { } ends)
                    {
                        return false;
                    }

                    foreach (var end in ends)
                    {
                        if (!after.Contains(end))
                        {
                            after.Add(end);
                        }
                    }
                }

                (current, after) = (after, current);
                return true;
            }

            foreach (var s in current)
            {
                var from = s * g.ClassCount;
                foreach (var c in form[k])
                {
                    var to = g.Next[from + c];
                    if (to < 0 || g.Flags[to] != CompiledGrammar.FlagBytes)
                    {
                        return false;
                    }

                    if (!after.Contains(to))
                    {
                        after.Add(to);
                    }
                }
            }

            (current, after) = (after, current);
        }

        return true;
    }

    /// <summary>
    /// The states <paramref name="count"/> continuation bytes (any of 0x80-0xBF, byte classes
    /// <paramref name="classes"/>) lead to from <paramref name="state"/> through plain states, or
    /// null if some lead elsewhere; memoized in the grammar (callers hold its text-groups lock).
    /// </summary>
    private static int[]? Continuations(CompiledGrammar g, int state, int count, byte[] classes)
    {
        if (count == 0)
        {
            return [state];
        }

        var memo = g.ContinuationMemo;
        var key = ((long)state * 8) + count;
        if (memo.TryGetValue(key, out var known))
        {
            return known;
        }

        var ends = new List<int>();
        var from = state * g.ClassCount;
        int[]? result = null;
        foreach (var c in classes)
        {
            var to = g.Next[from + c];
            if (to < 0 || g.Flags[to] != CompiledGrammar.FlagBytes)
            {
                goto Store;
            }

            var rest = Continuations(g, to, count - 1, classes);
            if (rest is null)
            {
                goto Store;
            }

            foreach (var end in rest)
            {
                if (!ends.Contains(end))
                {
                    ends.Add(end);
                }
            }
        }

        result = [.. ends];
    Store:
        memo[key] = result;
        return result;
    }

    /// <summary>
    /// Per multi-byte form, per byte of it, the distinct byte classes of <paramref name="classOf"/>
    /// in that byte's range: what <see cref="TextMoves"/> follows instead of every byte.
    /// </summary>
    public static byte[][][] FormClasses(byte[] classOf)
    {
        var forms = new byte[MultiByteForms.Length][][];
        var seen = new bool[256];
        var classes = new List<byte>();
        for (var f = 0; f < forms.Length; f++)
        {
            var form = MultiByteForms[f];
            forms[f] = new byte[form.Length][];
            for (var k = 0; k < form.Length; k++)
            {
                classes.Clear();
                for (int b = form[k].Lo; b <= form[k].Hi; b++)
                {
                    if (!seen[classOf[b]])
                    {
                        seen[classOf[b]] = true;
                        classes.Add(classOf[b]);
                    }
                }

                classes.ForEach(c => seen[c] = false);
                forms[f][k] = [.. classes];
            }
        }

        return forms;
    }

    /// <summary>
    /// The multi-byte form whose lead byte starts <paramref name="bytes"/>: its length, and how many of
    /// <paramref name="bytes"/> match it from the start (at most its length); (0, 0) when no form's lead
    /// byte does. Matched equal to Length is a complete character; matched equal to all of a shorter
    /// <paramref name="bytes"/>, the first bytes of one.
    /// </summary>
    private static (int Length, int Matched) FormAt(ReadOnlySpan<byte> bytes)
    {
        foreach (var form in MultiByteForms)
        {
            if (bytes[0] < form[0].Lo || bytes[0] > form[0].Hi)
            {
                continue;
            }

            var k = 1;
            while (k < form.Length && k < bytes.Length && bytes[k] >= form[k].Lo && bytes[k] <= form[k].Hi)
            {
                k++;
            }

            return (form.Length, k);
        }

        return (0, 0);
    }

    /// <summary>The group of the characters of multi-byte form <paramref name="f"/>.</summary>
    private static ulong GroupOfForm(int f) => MultiByteForms[f].Length == 4 ? AstralChar : MultiByteChar;
}
