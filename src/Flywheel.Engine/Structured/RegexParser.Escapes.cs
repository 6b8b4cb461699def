using System.Globalization;

namespace Flywheel.Structured;

/// <summary>Character classes and escapes.</summary>
internal sealed partial class RegexParser
{
    private CodePointSet ParseClass()
    {
        var negate = Eat('^');
        var parts = new List<(int, int)>();
        while (true)
        {
            if (_i >= _p.Length)
            {
                throw Error("unterminated character class");
            }

            if (_p[_i] == ']')
            {
                _i++;
                break;
            }

            var lo = ClassAtom(out var loSet);
            if (loSet is null && _i + 1 < _p.Length && _p[_i] == '-' && _p[_i + 1] != ']')
            {
                _i++;
                var hi = ClassAtom(out var hiSet);
                if (hiSet is not null || hi < lo)
                {
                    throw Error("invalid range in character class");
                }

                parts.Add((lo, hi));
            }
            else if (loSet is not null)
            {
                parts.AddRange(loSet.Ranges);
            }
            else
            {
                parts.Add((lo, lo));
            }
        }

        var set = CodePointSet.Of(parts);
        return negate ? set.Complement() : set;
    }

    private int ClassAtom(out CodePointSet? set)
    {
        set = null;
        if (!Eat('\\'))
        {
            return ReadCodePoint();
        }

        if (Eat('b'))
        {
            return 8; // backspace inside a class
        }

        var s = ParseEscape(inClass: true);
        if (s.Ranges.Count == 1 && s.Ranges[0].Lo == s.Ranges[0].Hi)
        {
            return s.Ranges[0].Lo;
        }

        set = s;
        return -1;
    }

    private CodePointSet ParseEscape(bool inClass)
    {
        if (_i >= _p.Length)
        {
            throw Error("trailing backslash");
        }

        var c = _p[_i++];
        switch (c)
        {
            case 'd': return Digit;
            case 'D': return Digit.Complement();
            case 'w': return Word;
            case 'W': return Word.Complement();
            case 's': return Space;
            case 'S': return Space.Complement();
            case 't': return CodePointSet.Single('\t');
            case 'n': return CodePointSet.Single('\n');
            case 'r': return CodePointSet.Single('\r');
            case 'v': return CodePointSet.Single('\v');
            case 'f': return CodePointSet.Single('\f');
            case '0' when _i >= _p.Length || !char.IsAsciiDigit(_p[_i]): return CodePointSet.Single(0);
            case 'x': return CodePointSet.Single(ReadHex(2));
            case 'u':
                var unit = ReadHex(4);
                if (unit is >= 0xD800 and <= 0xDBFF && _i + 1 < _p.Length && _p[_i] == '\\' && _p[_i + 1] == 'u')
                {
                    _i += 2;
                    var low = ReadHex(4);
                    if (low is < 0xDC00 or > 0xDFFF)
                    {
                        throw Error("unpaired surrogate escape");
                    }

                    return CodePointSet.Single(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00));
                }

                if (unit is >= 0xD800 and <= 0xDFFF)
                {
                    throw Error("unpaired surrogate escape");
                }

                return CodePointSet.Single(unit);
            default:
                if (char.IsAsciiLetterOrDigit(c))
                {
                    throw Error($"escape '\\{c}' is not supported" + (inClass ? "" : " (backreferences, word boundaries and control escapes are not regular or not supported)"));
                }

                _i--;
                return CodePointSet.Single(ReadCodePoint());
        }
    }

    private int ReadHex(int digits)
    {
        if (_i + digits > _p.Length || !int.TryParse(_p.AsSpan(_i, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var v))
        {
            throw Error("invalid hex escape");
        }

        _i += digits;
        return v;
    }
}
