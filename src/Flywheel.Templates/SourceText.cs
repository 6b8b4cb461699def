namespace Flywheel.Templates;

/// <summary>
/// Template source after Jinja's newline normalization, with a line index for error locations.
/// </summary>
/// <remarks>
/// Jinja splits the source with Python's <c>str.splitlines()</c> and joins the lines with "\n", which turns
/// every line boundary (\r\n, \r, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029) into "\n" and drops one trailing
/// newline (keep_trailing_newline=False, as transformers uses it). Lines keep their numbers and columns.
/// </remarks>
internal sealed class SourceText
{
    private readonly int[] _lineStarts;

    public SourceText(string source)
    {
        var text = PyText.NormalizeNewlines(source);
        if (text.EndsWith('\n'))
        {
            text = text[..^1];
        }

        Text = text;
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        _lineStarts = [.. starts];
    }

    public string Text { get; }

    /// <summary>1-based line and column (in UTF-16 units) of an offset into <see cref="Text"/>.</summary>
    public (int Line, int Column) Locate(int offset)
    {
        var index = Array.BinarySearch(_lineStarts, offset);
        var line = index >= 0 ? index : ~index - 1;
        return (line + 1, offset - _lineStarts[line] + 1);
    }

    public TemplateSyntaxException SyntaxError(int offset, string reason)
    {
        var (line, column) = Locate(offset);
        return new TemplateSyntaxException(reason, line, column);
    }
}
