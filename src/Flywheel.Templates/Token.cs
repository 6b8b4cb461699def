namespace Flywheel.Templates;

internal enum TokenKind
{
    /// <summary>Literal template text (whitespace control already applied).</summary>
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    /// <summary>A string literal; <see cref="Token.Value"/> holds the decoded value.</summary>
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One lexical token; <paramref name="Offset"/> indexes the normalized source.</summary>
internal readonly record struct Token(TokenKind Kind, string Value, int Offset)
{
    public bool Is(TokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsOperator(string op) => Kind == TokenKind.Operator && Value == op;

    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;

    public string Describe() => Kind switch
    {
        TokenKind.End => "end of template",
        TokenKind.Text => "template text",
        TokenKind.VariableBegin => "'{{'",
        TokenKind.VariableEnd => "'}}'",
        TokenKind.BlockBegin => "'{%'",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.String => "string literal",
        _ => $"'{Value}'",
    };
}
