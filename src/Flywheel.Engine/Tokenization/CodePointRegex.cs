using System.Globalization;
using System.Text.RegularExpressions;

namespace Flywheel.Tokenization;

/// <summary>
/// A tokenizer.json regex matched on code points, as Hugging Face's tokenizers (Oniguruma) and
/// transformers.js (a "u" regex) match it. .NET's Regex works on UTF-16 code units, so an astral-plane
/// character (most emoji, math letters, CJK extension B, ...) is two surrogates of category Cs to it, and
/// <c>\p{S}</c>, <c>\p{L}</c> or <c>\p{N}</c> never match it while <c>[^\p{L}]</c> matches each half. Before
/// matching, every surrogate pair is replaced by one BMP stand-in of the same general category (a rarely
/// used character no tokenizer pattern names), and match positions are mapped back: category classes then
/// see one character of the right category, and lengths count it once.
/// </summary>
internal sealed class CodePointRegex
{
    // One BMP character per general category, indexed by UnicodeCategory. Categories no astral code point
    // has (separators, controls, surrogates) keep U+0378, an unassigned code point (Cn).
    private static readonly char[] StandIns = BuildStandIns();

    private readonly Regex _regex;

    public CodePointRegex(string pattern, RegexOptions options = RegexOptions.None)
    {
        _regex = new Regex(pattern, options | RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    /// <summary>The stand-in used for an astral code point of <paramref name="category"/> (for tests).</summary>
    internal static char StandIn(UnicodeCategory category) => StandIns[(int)category];

    /// <summary>The matches in <paramref name="text"/> as (start, length) in its UTF-16 positions, in order.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var result = new List<(int, int)>();
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0)
        {
            foreach (var m in _regex.EnumerateMatches(text))
            {
                result.Add((m.Index, m.Length));
            }

            return result;
        }

        // positions[k] = where the stand-in text's character k starts in the original; one extra at the end.
        var chars = new char[text.Length];
        var positions = new int[text.Length + 1];
        var n = 0;
        for (var i = 0; i < text.Length; i++)
        {
            positions[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                chars[n++] = StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))];
                i++;
            }
            else
            {
                chars[n++] = text[i];
            }
        }

        positions[n] = text.Length;
        foreach (var m in _regex.EnumerateMatches(chars.AsSpan(0, n)))
        {
            result.Add((positions[m.Index], positions[m.Index + m.Length] - positions[m.Index]));
        }

        return result;
    }

    private static char[] BuildStandIns()
    {
        var map = new char[32];
        Array.Fill(map, '\u0378');
        Set(UnicodeCategory.UppercaseLetter, '\u2C00'); // Glagolitic capital letter Azu
        Set(UnicodeCategory.LowercaseLetter, '\u2C30'); // Glagolitic small letter Azu
        Set(UnicodeCategory.TitlecaseLetter, '\u1F88'); // Greek capital alpha with psili and prosgegrammeni
        Set(UnicodeCategory.ModifierLetter, '\uA015'); // Yi syllable wu
        Set(UnicodeCategory.OtherLetter, '\uA000'); // Yi syllable it
        Set(UnicodeCategory.NonSpacingMark, '\u1DC0'); // combining dotted grave accent
        Set(UnicodeCategory.SpacingCombiningMark, '\u0903'); // Devanagari sign visarga
        Set(UnicodeCategory.EnclosingMark, '\u20DD'); // combining enclosing circle
        Set(UnicodeCategory.DecimalDigitNumber, '\u1040'); // Myanmar digit zero
        Set(UnicodeCategory.LetterNumber, '\u2160'); // Roman numeral one
        Set(UnicodeCategory.OtherNumber, '\u2460'); // circled digit one
        Set(UnicodeCategory.Format, '\u2061'); // function application
        Set(UnicodeCategory.PrivateUse, '\uE000');
        Set(UnicodeCategory.ConnectorPunctuation, '\u203F'); // undertie
        Set(UnicodeCategory.DashPunctuation, '\u2E3A'); // two-em dash
        Set(UnicodeCategory.OpenPunctuation, '\u2E28'); // left double parenthesis
        Set(UnicodeCategory.ClosePunctuation, '\u2E29'); // right double parenthesis
        Set(UnicodeCategory.InitialQuotePunctuation, '\u2E02'); // left substitution bracket
        Set(UnicodeCategory.FinalQuotePunctuation, '\u2E03'); // right substitution bracket
        Set(UnicodeCategory.OtherPunctuation, '\u2E2E'); // reversed question mark
        Set(UnicodeCategory.MathSymbol, '\u2A00'); // n-ary circled dot operator
        Set(UnicodeCategory.CurrencySymbol, '\u20B0'); // German penny sign
        Set(UnicodeCategory.ModifierSymbol, '\uA700'); // modifier letter Chinese tone yin ping
        Set(UnicodeCategory.OtherSymbol, '\u2100'); // account of
        return map;

        void Set(UnicodeCategory category, char c)
        {
            // A wrong stand-in would silently mis-split text: check each against the runtime's Unicode data.
            if (CharUnicodeInfo.GetUnicodeCategory(c) != category)
            {
                throw new InvalidOperationException($"U+{(int)c:X4} is not of category {category}");
            }

            map[(int)category] = c;
        }
    }
}
