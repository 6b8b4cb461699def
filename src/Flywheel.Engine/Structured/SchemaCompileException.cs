namespace Flywheel.Structured;

/// <summary>
/// Thrown when a JSON Schema cannot be compiled into a grammar that accepts exactly its valid
/// instances (or a subset of them, as documented on <see cref="JsonSchemaGrammar"/>). Names the
/// offending keyword and the JSON pointer of the (sub)schema that holds it, so a client can fix it.
/// </summary>
public sealed class SchemaCompileException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="keyword">The keyword that cannot be honoured, e.g. "uniqueItems".</param>
    /// <param name="pointer">JSON pointer of the schema object holding the keyword, e.g. "#/properties/tags".</param>
    /// <param name="reason">Why it cannot be honoured.</param>
    public SchemaCompileException(string keyword, string pointer, string reason)
        : base($"JSON Schema keyword '{keyword}' at '{pointer}' is not supported: {reason}")
    {
        Keyword = keyword;
        Pointer = pointer;
        Reason = reason;
    }

    /// <summary>
    /// True when the time budget refused the schema: on a less busy server the same schema may compile, so a
    /// refusal like this is not remembered. False for refusals of the schema itself (a keyword, the state limit).
    /// </summary>
    public bool DependsOnLoad { get; init; }

    /// <summary>The keyword that cannot be honoured.</summary>
    public string Keyword { get; }

    /// <summary>JSON pointer (with a leading '#') of the schema object holding the keyword.</summary>
    public string Pointer { get; }

    /// <summary>Why the keyword cannot be honoured.</summary>
    public string Reason { get; }
}
