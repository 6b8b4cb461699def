using System.Text;

namespace Flywheel.Structured;

/// <summary>
/// Translates a JSON Schema pattern (ECMA-262) into a .NET pattern that means the same where the
/// two dialects differ on common constructs, so the validator agrees with the grammar's
/// <see cref="RegexParser"/>: <c>\d</c> and <c>\w</c> are ASCII in ECMA-262 (Unicode in .NET),
/// <c>.</c> excludes every line terminator (only <c>\n</c> in .NET), and <c>$</c> matches only at
/// the very end (.NET also before a final newline).
/// </summary>
internal static class EcmaPattern
{
    private const string Digit = "0-9";
    private const string Word = "A-Za-z0-9_";
    private const string NotLineTerminator = @"[^\n\r\u2028\u2029]";

    public static string ToDotNet(string pattern)
    {
        var sb = new StringBuilder(pattern.Length + 16);
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                var next = pattern[++i];
                sb.Append((next, inClass) switch
                {
                    ('d', false) => $"[{Digit}]",
                    ('d', true) => Digit,
                    ('D', false) => $"[^{Digit}]",
                    ('w', false) => $"[{Word}]",
                    ('w', true) => Word,
                    ('W', false) => $"[^{Word}]",
                    _ => $"\\{next}",
                });
                continue;
            }

            switch (c)
            {
                case '[' when !inClass:
                    inClass = true;
                    sb.Append(c);
                    break;
                case ']' when inClass:
                    inClass = false;
                    sb.Append(c);
                    break;
                case '.' when !inClass:
                    sb.Append(NotLineTerminator);
                    break;
                case '$' when !inClass:
                    sb.Append(@"\z");
                    break;
                default:
                    sb.Append(c);
                    break;
            }
        }

        return sb.ToString();
    }
}
