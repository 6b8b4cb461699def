using System.Globalization;

namespace Flywheel.Structured;

/// <summary>A parsed regular expression: sets of code points combined by concatenation, alternation, repetition.</summary>
internal abstract record RegexNode;

internal sealed record RegexSet(CodePointSet Set) : RegexNode;

internal sealed record RegexConcat(IReadOnlyList<RegexNode> Items) : RegexNode;

internal sealed record RegexAlt(IReadOnlyList<RegexNode> Items) : RegexNode;

/// <summary>Between Min and Max repetitions; Max -1 = unbounded.</summary>
internal sealed record RegexRepeat(RegexNode Item, int Min, int Max) : RegexNode;

/// <summary>
/// Parses the ECMA-262 regex subset that JSON Schema patterns use: literals, escapes (\d \w \s and
/// negations, \t \n \r \v \f \0 \xHH \uHHHH), classes with ranges and negation, '.', groups
/// (capturing, non-capturing, named), alternation, quantifiers (* + ? {n} {n,} {n,m}, lazy
/// suffix ignored: it does not change the language). Anchors are handled by
/// <see cref="RegexCompiler"/>; a leading negative lookahead and word boundaries where the pattern
/// decides them are resolved here (RegexParser.Assertions.cs). Other lookaround, backreferences and
/// flags-only syntax are refused with <see cref="SchemaCompileException"/>.
/// </summary>
internal sealed partial class RegexParser
{
    public const int MaxRepeat = 1000;

    /// <summary>Most nested groups: parsing and compiling recurse once per level, and the pattern comes from the request.</summary>
    public const int MaxGroupDepth = 100;

    private static readonly CodePointSet Digit = CodePointSet.Of([('0', '9')]);
    private static readonly CodePointSet Word = CodePointSet.Of([('0', '9'), ('A', 'Z'), ('a', 'z'), ('_', '_')]);
    private static readonly CodePointSet Space = CodePointSet.Of([
        (9, 13), (' ', ' '), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A), (0x2028, 0x2029),
        (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000), (0xFEFF, 0xFEFF)]);

    /// <summary>ECMA '.': anything but line terminators.</summary>
    public static readonly CodePointSet Dot = CodePointSet.Of([('\n', '\n'), ('\r', '\r'), (0x2028, 0x2029)]).Complement();

    private readonly string _p;
    private readonly string _keyword;
    private readonly string _pointer;
    private int _i;
    private int _groupDepth;

    private RegexParser(string pattern, string keyword, string pointer)
    {
        _p = pattern;
        _keyword = keyword;
        _pointer = pointer;
    }

    /// <summary>
    /// Parses the pattern's top-level alternatives, each with its own ^ / $ anchors, with word
    /// boundaries resolved. <paramref name="notPrefix"/> is the body of a leading negative lookahead
    /// (the text must not start with a match of it), or null.
    /// </summary>
    public static List<(bool Start, RegexNode Body, bool End)> ParseTopLevel(string pattern, string keyword, string pointer, out RegexNode? notPrefix)
    {
        var parser = new RegexParser(pattern, keyword, pointer);
        var branches = new List<(bool Start, RegexNode Body, bool End)>();
        notPrefix = null;
        while (true)
        {
            var start = parser.Eat('^');
            if (start && parser.ParseLeadingLookaheads() is { } lookahead)
            {
                notPrefix = lookahead;
            }

            var body = parser.ParseConcat(topLevel: true, out var end);
            branches.Add((start, body, end));
            if (parser._i >= parser._p.Length)
            {
                if (notPrefix is not null && branches.Count > 1)
                {
                    throw parser.Error("a lookahead is only supported in a pattern of one alternative");
                }

                return branches.Any(b => HasBoundary(b.Body)) ? parser.ResolveBoundaries(branches) : branches;
            }

            parser.Expect('|');
        }
    }

    private static bool HasBoundary(RegexNode body) =>
        body is RegexBoundary || (body is RegexConcat c && c.Items.Any(n => n is RegexBoundary));

    private SchemaCompileException Error(string why) =>
        new(_keyword, _pointer, $"pattern /{_p}/ at offset {_i}: {why}");

    private bool Eat(char c)
    {
        if (_i < _p.Length && _p[_i] == c)
        {
            _i++;
            return true;
        }

        return false;
    }

    private void Expect(char c)
    {
        if (!Eat(c))
        {
            throw Error($"expected '{c}'");
        }
    }

    private RegexNode ParseAlt()
    {
        var items = new List<RegexNode> { ParseConcat(topLevel: false, out _) };
        while (Eat('|'))
        {
            items.Add(ParseConcat(topLevel: false, out _));
        }

        return items.Count == 1 ? items[0] : new RegexAlt(items);
    }

    private RegexNode ParseConcat(bool topLevel, out bool endAnchor)
    {
        endAnchor = false;
        var items = new List<RegexNode>();
        while (_i < _p.Length && _p[_i] != '|' && _p[_i] != ')')
        {
            if (_p[_i] == '$')
            {
                // '$' only means something at the very end of a top-level alternative.
                _i++;
                var atEnd = _i >= _p.Length || _p[_i] == '|';
                if (!topLevel || !atEnd)
                {
                    throw Error("'$' is only supported at the end of the pattern");
                }

                endAnchor = true;
                break;
            }

            if (_p[_i] == '^')
            {
                throw Error("'^' is only supported at the start of the pattern");
            }

            var atom = ParseAtom();
            if (atom is RegexBoundary && _i < _p.Length && _p[_i] is '*' or '+' or '?')
            {
                throw Error($"nothing to repeat before '{_p[_i]}'");
            }

            items.Add(atom is RegexBoundary ? atom : ParseQuantified(atom));
        }

        if (topLevel && _i < _p.Length && _p[_i] == ')')
        {
            throw Error("unbalanced ')'");
        }

        return items.Count == 1 ? items[0] : new RegexConcat(items);
    }

    private RegexNode ParseQuantified(RegexNode atom)
    {
        while (_i < _p.Length)
        {
            int min, max;
            var c = _p[_i];
            if (c == '*') { min = 0; max = -1; _i++; }
            else if (c == '+') { min = 1; max = -1; _i++; }
            else if (c == '?') { min = 0; max = 1; _i++; }
            else if (c == '{' && TryParseBraces(out min, out max)) { }
            else { return atom; }

            if (min > MaxRepeat || max > MaxRepeat)
            {
                throw Error($"repetition counts above {MaxRepeat} are not supported");
            }

            Eat('?'); // lazy: same language
            atom = new RegexRepeat(atom, min, max);
        }

        return atom;
    }

    private bool TryParseBraces(out int min, out int max)
    {
        min = max = 0;
        var j = _i + 1;
        var a = ReadInt(ref j);
        if (a is null)
        {
            return false;
        }

        int? b = a;
        if (j < _p.Length && _p[j] == ',')
        {
            j++;
            b = ReadInt(ref j) ?? -1;
        }

        if (j >= _p.Length || _p[j] != '}')
        {
            return false;
        }

        if (b >= 0 && b < a)
        {
            throw Error("quantifier {m,n} with n < m");
        }

        _i = j + 1;
        min = a.Value;
        max = b.Value;
        return true;
    }

    private int? ReadInt(ref int j)
    {
        var start = j;
        while (j < _p.Length && char.IsAsciiDigit(_p[j]))
        {
            j++;
        }

        return j == start ? null : int.Parse(_p.AsSpan(start, Math.Min(j - start, 9)), CultureInfo.InvariantCulture);
    }

    private RegexNode ParseAtom()
    {
        var c = _p[_i];
        switch (c)
        {
            case '(':
                _i++;
                if (Eat('?'))
                {
                    if (Eat(':'))
                    {
                    }
                    else if (_i + 1 < _p.Length && _p[_i] == '<' && _p[_i + 1] != '=' && _p[_i + 1] != '!')
                    {
                        var close = _p.IndexOf('>', _i);
                        if (close < 0)
                        {
                            throw Error("unterminated group name");
                        }

                        _i = close + 1;
                    }
                    else
                    {
                        throw Error("lookaround is only supported as a negative lookahead right after a leading '^'; inline flags are not supported");
                    }
                }

                if (++_groupDepth > MaxGroupDepth)
                {
                    throw Error($"groups nest deeper than the limit of {MaxGroupDepth}");
                }

                var inner = ParseAlt();
                Expect(')');
                _groupDepth--;
                return inner;
            case '[':
                _i++;
                return new RegexSet(ParseClass());
            case '.':
                _i++;
                return new RegexSet(Dot);
            case '\\' when _i + 1 < _p.Length && _p[_i + 1] is 'b' or 'B':
                if (_groupDepth > 0)
                {
                    throw Error("word boundaries are only supported outside groups");
                }

                _i += 2;
                return new RegexBoundary(_p[_i - 1] == 'B');
            case '\\':
                _i++;
                return new RegexSet(ParseEscape(inClass: false));
            case '*' or '+' or '?':
                throw Error($"nothing to repeat before '{c}'");
            case ')':
                throw Error("unbalanced ')'");
            default:
                return new RegexSet(CodePointSet.Single(ReadCodePoint()));
        }
    }

    private int ReadCodePoint()
    {
        var cp = char.ConvertToUtf32(_p, _i);
        _i += cp > 0xFFFF ? 2 : 1;
        return cp;
    }
}
