using System.Text;

namespace Flywheel.Templates;

// The tokens inside {{ }} and {% %}: names, operators, numbers and string literals (with their escapes).
internal sealed partial class TemplateLexer
{
    private static readonly string[] Operators =
        ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
         "<", ">", "=", ".", ":", "|", ",", ";"];

    private int LexExpressionToken(int i, Stack<(char Close, int Offset)> brackets)
    {
        var c = _src[i];
        if (char.IsLetter(c) || c == '_')
        {
            var start = i;
            while (i < _src.Length && (char.IsLetterOrDigit(_src[i]) || _src[i] == '_'))
            {
                i++;
            }

            _tokens.Add(new Token(TokenKind.Name, _src[start..i], start));
            return i;
        }

        if (char.IsAsciiDigit(c))
        {
            return LexNumber(i);
        }

        if (c is '\'' or '"')
        {
            return LexString(i);
        }

        foreach (var op in Operators)
        {
            if (string.CompareOrdinal(_src, i, op, 0, op.Length) != 0)
            {
                continue;
            }

            if (op is "(" or "[" or "{")
            {
                brackets.Push((op switch { "(" => ')', "[" => ']', _ => '}' }, i));
            }
            else if (op is ")" or "]" or "}")
            {
                if (brackets.Count == 0 || brackets.Peek().Close != op[0])
                {
                    throw _source.SyntaxError(i, $"unexpected '{op}'");
                }

                brackets.Pop();
            }

            _tokens.Add(new Token(TokenKind.Operator, op, i));
            return i + op.Length;
        }

        throw _source.SyntaxError(i, $"unexpected character '{c}'");
    }

    private int LexNumber(int start)
    {
        var i = SkipDigits(start);
        var isFloat = false;

        // After '.', digits are an attribute/index (foo.0), never a float's fraction.
        var afterDot = _tokens.Count > 0 && _tokens[^1].IsOperator(".");
        if (!afterDot && i + 1 < _src.Length && _src[i] == '.' && char.IsAsciiDigit(_src[i + 1]))
        {
            i = SkipDigits(i + 1);
            isFloat = true;
        }

        if (!afterDot && i < _src.Length && _src[i] is 'e' or 'E')
        {
            var j = i + 1;
            if (j < _src.Length && _src[j] is '+' or '-')
            {
                j++;
            }

            if (j < _src.Length && char.IsAsciiDigit(_src[j]))
            {
                i = SkipDigits(j);
                isFloat = true;
            }
        }

        var text = _src[start..i].Replace("_", "", StringComparison.Ordinal);
        _tokens.Add(new Token(isFloat ? TokenKind.Float : TokenKind.Integer, text, start));
        return i;
    }

    private int SkipDigits(int i)
    {
        while (i < _src.Length && (char.IsAsciiDigit(_src[i]) ||
               (_src[i] == '_' && i + 1 < _src.Length && char.IsAsciiDigit(_src[i + 1]))))
        {
            i++;
        }

        return i;
    }

    private int LexString(int start)
    {
        var quote = _src[start];
        var sb = new StringBuilder();
        var i = start + 1;
        while (true)
        {
            if (i >= _src.Length)
            {
                throw _source.SyntaxError(start, "unterminated string literal");
            }

            var c = _src[i];
            if (c == quote)
            {
                _tokens.Add(new Token(TokenKind.String, sb.ToString(), start));
                return i + 1;
            }

            if (c != '\\')
            {
                sb.Append(c);
                i++;
                continue;
            }

            if (i + 1 >= _src.Length)
            {
                throw _source.SyntaxError(start, "unterminated string literal");
            }

            i = StringEscapes.Decode(_src, i, sb, _source);
        }
    }
}
