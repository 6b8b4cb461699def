using System.Globalization;
using System.Text;

namespace Flywheel.Templates;

/// <summary>
/// Decodes backslash escapes in Jinja string literals with Python's "unicode-escape" rules (Jinja decodes
/// literals that way): \\ \' \" \n \r \t \a \b \f \v, octal \ooo, \xHH, \uXXXX, \UXXXXXXXX, and a backslash
/// before a newline joins lines. Unknown escapes such as \d stay as written.
/// </summary>
internal static class StringEscapes
{
    /// <summary>Decodes the escape whose backslash is at <paramref name="i"/>; returns the index after it.</summary>
    public static int Decode(string src, int i, StringBuilder sb, SourceText source)
    {
        var c = src[i + 1];
        switch (c)
        {
            case '\\': sb.Append('\\'); return i + 2;
            case '\'': sb.Append('\''); return i + 2;
            case '"': sb.Append('"'); return i + 2;
            case 'n': sb.Append('\n'); return i + 2;
            case 'r': sb.Append('\r'); return i + 2;
            case 't': sb.Append('\t'); return i + 2;
            case 'a': sb.Append('\a'); return i + 2;
            case 'b': sb.Append('\b'); return i + 2;
            case 'f': sb.Append('\f'); return i + 2;
            case 'v': sb.Append('\v'); return i + 2;
            case '\n': return i + 2;
            case 'x': return Hex(src, i, 2, sb, source);
            case 'u': return Hex(src, i, 4, sb, source);
            case 'U': return Hex(src, i, 8, sb, source);
            case 'N':
                throw source.SyntaxError(i, "\\N{...} escapes are not supported in string literals");
        }

        if (c is >= '0' and <= '7')
        {
            var end = i + 1;
            var value = 0;
            while (end < src.Length && end < i + 4 && src[end] is >= '0' and <= '7')
            {
                value = (value * 8) + (src[end] - '0');
                end++;
            }

            sb.Append((char)value);
            return end;
        }

        sb.Append('\\').Append(c);
        return i + 2;
    }

    private static int Hex(string src, int i, int digits, StringBuilder sb, SourceText source)
    {
        var start = i + 2;
        if (start + digits > src.Length ||
            !long.TryParse(src.AsSpan(start, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long value) ||
            src.AsSpan(start, digits).ContainsAny('+', '-'))
        {
            throw source.SyntaxError(i, $"truncated \\{src[i + 1]} escape in string literal (needs {digits} hex digits)");
        }

        if (value > 0x10FFFF)
        {
            throw source.SyntaxError(i, "\\U escape is beyond U+10FFFF");
        }

        if (value >= 0x10000)
        {
            sb.Append(char.ConvertFromUtf32((int)value));
        }
        else
        {
            sb.Append((char)value);
        }

        return start + digits;
    }
}
