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
internal static partial class ByteGroups
{
    /// <summary>
    /// What is never text: bytes 0x00-0x1F, the quote and the backslash (a string's exit and its
    /// escapes), and any byte from 0x80 that is not part of a <see cref="MultiByteChar"/> or an
    /// <see cref="AstralChar"/> (a token that starts mid-character, or an invalid byte).
    /// </summary>
    public const ulong Other = 1ul << 0;

    /// <summary>
    /// A complete two- or three-byte UTF-8 encoding (a code point from U+0080 to U+FFFF, no overlong
    /// forms, no surrogates), or at a token's end the first bytes of one: a state that reads every
    /// such character through plain states (see <see cref="TextMoves"/>) reads those first bytes so too.
    /// </summary>
    public const ulong MultiByteChar = 1ul << 3;

    /// <summary>
    /// Like <see cref="MultiByteChar"/> for the four-byte encodings (U+10000 to U+10FFFF). Apart
    /// because a string with a maximum length reads the Basic Multilingual Plane only (see
    /// <see cref="StringAutomata.Length"/>): it still reads all other text, and takes its subtrees whole.
    /// </summary>
    public const ulong AstralChar = 1ul << AstralBit;

    // Groups 1 and 2: digits and upper-case letters. Groups 4..29: the lower-case letters, one each
    // (a key or pattern that forbids one letter leaves the other 25 safe, and lower-case letters are
    // most of the vocabulary's text). Groups 30..61: the other ASCII bytes from 0x20, one each,
    // but the quote and the backslash (never text, so in Other). Group 62: AstralChar; 63 is free.
    private const int FirstLower = 4, FirstSingle = 30, AstralBit = 62;

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

    /// <summary>
    /// The groups of <paramref name="bytes"/>[k..] for every k, into <paramref name="suffixGroups"/>
    /// (same length): ASCII bytes by their group, multi-byte characters (or their first bytes at the
    /// end) as <see cref="MultiByteChar"/> or <see cref="AstralChar"/>, anything else from 0x80 as
    /// <see cref="Other"/>; and the number of moves (<see cref="TextMoves"/>: an ASCII byte, a whole
    /// character, an Other byte) of each suffix into <paramref name="suffixMoves"/>: runs of text are
    /// bounded in moves, which are fewer than bytes wherever the text holds multi-byte characters.
    /// </summary>
    public static void OfSuffixes(ReadOnlySpan<byte> bytes, Span<ulong> suffixGroups, Span<int> suffixMoves)
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
            else if (FormAt(bytes[k..]) is var (form, matched) && form > 0 && (matched == form || k + matched == bytes.Length))
            {
                // A complete character, or the token ends part-way through one: a state that reads every
                // complete character of its kind through plain states reads these first bytes of one as well.
                (group, length) = (form == 4 ? AstralChar : MultiByteChar, matched);
            }
            else
            {
                (group, length) = (Other, 1);
            }

            suffixGroups[k] = group | (k + length < bytes.Length ? suffixGroups[k + length] : 0);
            suffixMoves[k] = 1 + (k + length < bytes.Length ? suffixMoves[k + length] : 0);
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
            var group = GroupOfForm(f);
            if ((local & group) == 0)
            {
                continue; // an earlier form of the group failed
            }

            if (!FollowForm(g, state, f, forms[f], ref current, ref after))
            {
                local &= ~group;
                continue;
            }

            foreach (var end in current)
            {
                AddMove(moves, first, group, end);
            }
        }

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

    private static byte[] BuildAsciiGroups()
    {
        var groups = new byte[0x80];
        var next = FirstSingle;
        for (var b = 0; b < 0x80; b++)
        {
            groups[b] = b switch
            {
                < 0x20 or StacklessRegion.ExitByte or '\\' => 0,
                >= '0' and <= '9' => 1,
                >= 'A' and <= 'Z' => 2,
                >= 'a' and <= 'z' => (byte)(FirstLower + b - 'a'),
                _ => (byte)next++,
            };
        }

        if (next != AstralBit)
        {
            throw new InvalidOperationException("the single-byte groups must end where the astral group starts");
        }

        return groups;
    }

    private static ulong BuildText()
    {
        var text = MultiByteChar | AstralChar;
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
