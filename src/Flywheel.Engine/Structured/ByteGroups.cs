namespace Flywheel.Structured;

/// <summary>
/// Groups of bytes as a 64-bit set, for taking whole trie subtrees at once. The trie knows which
/// groups the rest of every token below a node is made of (<see cref="TokenTrie.SubtreeGroups"/>);
/// a grammar knows, per plain state, groups of <see cref="Text"/> that it reads in any order and
/// amount without leaving plain states or dying (<see cref="CompiledGrammar.TextGroupsOf"/>). Below
/// a node whose groups are all among its state's, every token is accepted and none leaves the
/// plain region, so the walk sets them without reading a byte. Inside a JSON string that is almost
/// the whole vocabulary. The groups only decide what may be skipped, never what is accepted.
/// </summary>
internal static class ByteGroups
{
    /// <summary>
    /// What is never text: bytes 0x00-0x1F, and any byte from 0x80 that is not part of a complete
    /// <see cref="MultiByteChar"/> (a token may end or start mid-character).
    /// </summary>
    public const ulong Other = 1ul << 0;

    /// <summary>A complete UTF-8 encoding of a code point from U+0080 (no overlong forms, no surrogates, up to U+10FFFF).</summary>
    public const ulong MultiByteChar = 1ul << 3;

    // Groups 1 and 2: digits and upper-case letters. Groups 4..29: the lower-case letters, one each
    // (a key or pattern that forbids one letter leaves the other 25 safe, and lower-case letters are
    // most of the vocabulary's text). Groups 30..63: the other ASCII bytes from 0x20, one each.
    private const int FirstLower = 4, FirstSingle = 30;

    /// <summary>Run length that <see cref="CompiledGrammar.BoundedTextGroups"/> hold for: longer than most tokens.</summary>
    public const int BoundDepth = 16;

    /// <summary>Number of groups: every bit of a set is one.</summary>
    public const int Count = 64;

    private static readonly byte[] AsciiGroup = BuildAsciiGroups();

    /// <summary>
    /// What a JSON string holds literally: ASCII from 0x20 except the quote (the exit byte) and
    /// the backslash (escapes), and every complete multi-byte character.
    /// </summary>
    public static readonly ulong Text = BuildText();

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
    /// The groups of <paramref name="bytes"/>[k..] for every k, into <paramref name="suffixGroups"/>
    /// (same length): ASCII bytes by their group, complete multi-byte characters as
    /// <see cref="MultiByteChar"/>, anything else from 0x80 as <see cref="Other"/>.
    /// </summary>
    public static void OfSuffixes(ReadOnlySpan<byte> bytes, Span<ulong> suffixGroups)
    {
        for (var k = bytes.Length - 1; k >= 0; k--)
        {
            var b = bytes[k];
            ulong group;
            int length;
            if (b < 0x80)
            {
                group = 1ul << AsciiGroup[b];
                length = 1;
            }
            else
            {
                length = CharLength(bytes[k..]);
                group = length > 0 ? MultiByteChar : Other;
                length = Math.Max(length, 1);
            }

            suffixGroups[k] = group | (k + length < bytes.Length ? suffixGroups[k + length] : 0);
        }
    }

    /// <summary>
    /// The <see cref="Text"/> groups whose every member moves <paramref name="state"/> through plain
    /// states only (none dead, none that accepts or calls): a byte for ASCII groups, a whole
    /// character for <see cref="MultiByteChar"/>. Adds to <paramref name="moves"/> each state those
    /// groups reach, once, with the groups that lead there. Zero unless the state itself is plain.
    /// </summary>
    public static ulong TextMoves(CompiledGrammar g, int state, List<(ulong Group, int Target)> moves)
    {
        if (g.Flags[state] != CompiledGrammar.FlagBytes)
        {
            return 0;
        }

        // Moves are kept one per target, with every group that leads there (a state has far
        // fewer targets than groups).
        var first = moves.Count;
        var local = Text;
        var row = state * g.ClassCount;
        foreach (var (cls, groups) in g.TextClassGroups)
        {
            var to = g.Next[row + cls];
            if (to < 0 || g.Flags[to] != CompiledGrammar.FlagBytes)
            {
                local &= ~groups;
            }
            else
            {
                AddMove(moves, first, groups, to);
            }
        }

        var (current, after) = g.TextMoveScratch;
        var forms = g.MultiByteFormClasses;
        for (var f = 0; f < forms.Length; f++)
        {
            current.Clear();
            current.Add(state);
            var form = forms[f];
            for (var k = 0; k < form.Length; k++)
            {
                after.Clear();
                if (k > 0 && MultiByteForms[f][k] == (0x80, 0xBF))
                {
                    // The rest are whole continuation ranges: where they lead from each state is
                    // shared by every form and state that reaches it.
                    foreach (var s in current)
                    {
                        var ends = Continuations(g, s, form.Length - k, form[k]);
                        if (ends is null)
                        {
                            local &= ~MultiByteChar;
                            goto Done;
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
                    break;
                }

                foreach (var s in current)
                {
                    var from = s * g.ClassCount;
                    foreach (var c in form[k])
                    {
                        var to = g.Next[from + c];
                        if (to < 0 || g.Flags[to] != CompiledGrammar.FlagBytes)
                        {
                            local &= ~MultiByteChar;
                            goto Done;
                        }

                        if (!after.Contains(to))
                        {
                            after.Add(to);
                        }
                    }
                }

                (current, after) = (after, current);
            }

            foreach (var end in current)
            {
                AddMove(moves, first, MultiByteChar, end);
            }
        }

    Done:
        for (var k = moves.Count - 1; k >= first; k--)
        {
            var kept = moves[k].Group & local;
            if (kept == 0)
            {
                moves.RemoveAt(k);
            }
            else
            {
                moves[k] = (kept, moves[k].Target);
            }
        }

        return local;
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

    private static void AddMove(List<(ulong Group, int Target)> moves, int first, ulong group, int to)
    {
        for (var k = moves.Count - 1; k >= first; k--)
        {
            if (moves[k].Target == to)
            {
                moves[k] = (moves[k].Group | group, to);
                return;
            }
        }

        moves.Add((group, to));
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
    /// Each byte class of <paramref name="classOf"/> holding ASCII text bytes, with the groups of
    /// those bytes: what <see cref="TextMoves"/> follows instead of every byte (a group is lost if
    /// any of its classes fails, and classes that move alike are merged into one move).
    /// </summary>
    public static (byte Class, ulong Groups)[] TextClassGroups(byte[] classOf)
    {
        var groups = new ulong[256];
        for (var b = 0x20; b < 0x80; b++)
        {
            if (b != StacklessRegion.ExitByte && b != '\\')
            {
                groups[classOf[b]] |= 1ul << AsciiGroup[b];
            }
        }

        var result = new List<(byte Class, ulong Groups)>();
        for (var c = 0; c < 256; c++)
        {
            if (groups[c] != 0)
            {
                result.Add(((byte)c, groups[c]));
            }
        }

        return [.. result];
    }

    /// <summary>The group of an ASCII byte (one below 0x80).</summary>
    public static ulong OfAscii(byte b) => 1ul << AsciiGroup[b];

    /// <summary>Length of the complete multi-byte character at the start of <paramref name="bytes"/>, or 0 if there is none.</summary>
    private static int CharLength(ReadOnlySpan<byte> bytes)
    {
        foreach (var form in MultiByteForms)
        {
            if (bytes[0] < form[0].Lo || bytes[0] > form[0].Hi)
            {
                continue;
            }

            if (bytes.Length < form.Length)
            {
                return 0;
            }

            for (var k = 1; k < form.Length; k++)
            {
                if (bytes[k] < form[k].Lo || bytes[k] > form[k].Hi)
                {
                    return 0;
                }
            }

            return form.Length;
        }

        return 0;
    }

    private static byte[] BuildAsciiGroups()
    {
        var groups = new byte[0x80];
        var next = FirstSingle;
        for (var b = 0; b < 0x80; b++)
        {
            groups[b] = b switch
            {
                < 0x20 => 0,
                >= '0' and <= '9' => 1,
                >= 'A' and <= 'Z' => 2,
                >= 'a' and <= 'z' => (byte)(FirstLower + b - 'a'),
                _ => (byte)next++,
            };
        }

        if (next != Count)
        {
            throw new InvalidOperationException("the single-byte groups must fill the set exactly");
        }

        return groups;
    }

    private static ulong BuildText()
    {
        var text = MultiByteChar;
        for (var b = 0x20; b < 0x80; b++)
        {
            if (b != StacklessRegion.ExitByte && b != '\\')
            {
                text |= 1ul << AsciiGroup[b];
            }
        }

        return text;
    }
}
