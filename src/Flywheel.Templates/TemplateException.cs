namespace Flywheel.Templates;

/// <summary>
/// A chat template could not be parsed or rendered: a syntax error, a type error while rendering, a resource
/// limit, or the template's own <c>raise_exception(message)</c>. Every failure of <see cref="ChatTemplate"/>
/// is this type (or <see cref="TemplateSyntaxException"/>), never a crash; servers map it to a client error.
/// </summary>
public class TemplateException : Exception
{
    /// <summary>Creates an error with no location.</summary>
    public TemplateException(string message)
        : base(message)
    {
        Reason = message;
    }

    /// <summary>Creates an error located in the template source (1-based line and column).</summary>
    public TemplateException(string reason, int line, int column)
        : base($"{reason} (template line {line}, column {column})")
    {
        Reason = reason;
        Line = line;
        Column = column;
    }

    private protected TemplateException(string message, string reason, int? line, int? column, bool raised)
        : base(message)
    {
        Reason = reason;
        Line = line;
        Column = column;
        RaisedByTemplate = raised;
    }

    /// <summary>The message without the location suffix.</summary>
    public string Reason { get; }

    /// <summary>1-based line in the template source, when known.</summary>
    public int? Line { get; }

    /// <summary>1-based column in the template source, when known.</summary>
    public int? Column { get; }

    /// <summary>
    /// True when the template itself called <c>raise_exception(message)</c>; then <see cref="Exception.Message"/>
    /// is exactly the template's message (e.g. "Conversation roles must alternate user/assistant/...").
    /// </summary>
    public bool RaisedByTemplate { get; }

    internal static TemplateException Raised(string message, int? line, int? column) =>
        new RaisedTemplateException(message, line, column);

    private sealed class RaisedTemplateException(string message, int? line, int? column)
        : TemplateException(message, message, line, column, raised: true);
}

/// <summary>The template source is not valid (in the supported Jinja subset); names line and column.</summary>
public sealed class TemplateSyntaxException : TemplateException
{
    /// <summary>Creates a syntax error at a 1-based line and column.</summary>
    public TemplateSyntaxException(string reason, int line, int column)
        : base(reason, line, column)
    {
    }
}
