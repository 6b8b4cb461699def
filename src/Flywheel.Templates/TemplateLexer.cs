namespace Flywheel.Templates;

/// <summary>
/// Splits template source into text and tag tokens the way Jinja does with transformers' settings:
/// trim_blocks=True (the first newline after a block or comment tag is removed), lstrip_blocks=True
/// (spaces and tabs before a block or comment tag at the start of a line are removed), '-' strips all
/// whitespace on that side of a tag, '+' disables trim/lstrip, and {% raw %} bodies are kept verbatim.
/// </summary>
internal sealed partial class TemplateLexer
{
    private readonly SourceText _source;
    private readonly string _src;
    private readonly List<Token> _tokens = [];
    private int _pos;

    // Jinja's "line_starting": whether the previous match ended with a newline (lstrip_blocks needs it
    // when the text before a tag holds no newline of its own).
    private bool _lineStarting = true;

    private TemplateLexer(SourceText source)
    {
        _source = source;
        _src = source.Text;
    }

    public static List<Token> Tokenize(SourceText source)
    {
        var lexer = new TemplateLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private void Run()
    {
        while (_pos < _src.Length)
        {
            var tag = FindTagStart(_pos);
            if (tag < 0)
            {
                AddText(_src[_pos..], _pos);
                break;
            }

            var kind = _src[tag + 1];
            var modifier = tag + 2 < _src.Length ? _src[tag + 2] : '\0';
            AddText(StripBeforeTag(_src[_pos..tag], modifier, isVariable: kind == '{'), _pos);
            var afterBegin = tag + 2 + (modifier is '-' or '+' ? 1 : 0);
            if (kind == '#')
            {
                LexComment(tag, afterBegin);
            }
            else if (kind == '%' && TryLexRaw(tag))
            {
                continue;
            }
            else
            {
                LexTag(tag, afterBegin, isBlock: kind == '%');
            }
        }

        _tokens.Add(new Token(TokenKind.End, "", _src.Length));
    }

    private int FindTagStart(int from)
    {
        for (var i = _src.IndexOf('{', from); i >= 0 && i + 1 < _src.Length; i = _src.IndexOf('{', i + 1))
        {
            if (_src[i + 1] is '{' or '%' or '#')
            {
                return i;
            }
        }

        return -1;
    }

    private void AddText(string text, int offset)
    {
        if (text.Length > 0)
        {
            _tokens.Add(new Token(TokenKind.Text, text, offset));
        }
    }

    private string StripBeforeTag(string text, char modifier, bool isVariable)
    {
        if (modifier == '-')
        {
            return PyText.Strip(text, null, left: false, right: true);
        }

        if (modifier == '+' || isVariable)
        {
            return text;
        }

        // lstrip_blocks: drop the run of whitespace between the last newline (or a line start) and the tag.
        var lineStart = text.LastIndexOf('\n') + 1;
        if (lineStart == 0 && !_lineStarting)
        {
            return text;
        }

        for (var i = lineStart; i < text.Length; i++)
        {
            if (!PyText.IsWhitespace(text[i]))
            {
                return text;
            }
        }

        return text[..lineStart];
    }

    /// <summary>Moves past an end tag, applying '-' (strip all whitespace) or trim_blocks (one newline).</summary>
    private void SkipAfterEnd(int afterTag, char modifier, bool trimBlocks)
    {
        _pos = afterTag;
        if (modifier == '-')
        {
            while (_pos < _src.Length && PyText.IsWhitespace(_src[_pos]))
            {
                _pos++;
            }
        }
        else if (trimBlocks && modifier != '+' && _pos < _src.Length && _src[_pos] == '\n')
        {
            _pos++;
        }

        _lineStarting = _pos > 0 && _src[_pos - 1] == '\n';
    }

    private void LexComment(int tag, int afterBegin)
    {
        var close = _src.IndexOf("#}", afterBegin, StringComparison.Ordinal);
        if (close < 0)
        {
            throw _source.SyntaxError(tag, "unclosed comment: '{#' has no matching '#}'");
        }

        var modifier = close > afterBegin ? _src[close - 1] : '\0';
        SkipAfterEnd(close + 2, modifier, trimBlocks: true);
    }

    private bool TryLexRaw(int tag)
    {
        if (!TryMatchStatement(tag, "raw", out var beginEnd, out var beginModifier))
        {
            return false;
        }

        // Jinja applies no trim_blocks after {% raw %}, only '-'.
        SkipAfterEnd(beginEnd, beginModifier, trimBlocks: false);
        for (var search = _pos; ; search++)
        {
            var candidate = _src.IndexOf("{%", search, StringComparison.Ordinal);
            if (candidate < 0)
            {
                throw _source.SyntaxError(tag, "unclosed raw block: '{% raw %}' has no matching '{% endraw %}'");
            }

            if (TryMatchStatement(candidate, "endraw", out var endEnd, out var endModifier))
            {
                var bodyModifier = candidate + 2 < _src.Length ? _src[candidate + 2] : '\0';
                AddText(StripBeforeTag(_src[_pos..candidate], bodyModifier, isVariable: false), _pos);
                SkipAfterEnd(endEnd, endModifier, trimBlocks: true);
                return true;
            }

            search = candidate;
        }
    }

    /// <summary>Matches <c>{%[-+]? name [-+]?%}</c> at <paramref name="at"/>.</summary>
    private bool TryMatchStatement(int at, string name, out int end, out char endModifier)
    {
        end = 0;
        endModifier = '\0';
        var i = at + 2;
        if (i < _src.Length && _src[i] is '-' or '+')
        {
            i++;
        }

        while (i < _src.Length && PyText.IsWhitespace(_src[i]))
        {
            i++;
        }

        if (string.CompareOrdinal(_src, i, name, 0, name.Length) != 0)
        {
            return false;
        }

        i += name.Length;
        while (i < _src.Length && PyText.IsWhitespace(_src[i]))
        {
            i++;
        }

        if (i < _src.Length && _src[i] is '-' or '+')
        {
            endModifier = _src[i];
            i++;
        }

        if (string.CompareOrdinal(_src, i, "%}", 0, 2) != 0)
        {
            return false;
        }

        end = i + 2;
        return true;
    }

    private void LexTag(int tag, int afterBegin, bool isBlock)
    {
        _tokens.Add(new Token(isBlock ? TokenKind.BlockBegin : TokenKind.VariableBegin, "", tag));
        var brackets = new Stack<(char Close, int Offset)>();
        var i = afterBegin;
        while (true)
        {
            while (i < _src.Length && PyText.IsWhitespace(_src[i]))
            {
                i++;
            }

            if (i >= _src.Length)
            {
                throw _source.SyntaxError(tag, $"tag is not closed: expected '{(isBlock ? "%}" : "}}")}' before the end of the template");
            }

            if (brackets.Count == 0 && TryEndTag(i, isBlock))
            {
                return;
            }

            i = LexExpressionToken(i, brackets);
        }
    }

    private bool TryEndTag(int i, bool isBlock)
    {
        var close = isBlock ? "%}" : "}}";
        var modifier = '\0';
        var at = i;
        if (_src[i] is '-' || (isBlock && _src[i] == '+'))
        {
            modifier = _src[i];
            at = i + 1;
        }

        if (string.CompareOrdinal(_src, at, close, 0, 2) != 0)
        {
            return false;
        }

        _tokens.Add(new Token(isBlock ? TokenKind.BlockEnd : TokenKind.VariableEnd, "", i));
        SkipAfterEnd(at + 2, modifier, trimBlocks: isBlock);
        return true;
    }
}
