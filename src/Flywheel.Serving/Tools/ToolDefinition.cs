namespace Flywheel.Serving.Tools;

/// <summary>One function the client offers the model (OpenAI's <c>tools[i]</c> of type <c>function</c>).</summary>
/// <param name="Name">The function name (1-64 of <c>a-zA-Z0-9_-</c>; checked by the edge).</param>
/// <param name="Description">What the function does, for the model; null when not given.</param>
/// <param name="ParametersJson">
/// The arguments' JSON Schema as JSON text. A function declared without <c>parameters</c> takes none:
/// the edge gives it <see cref="NoParameters"/>.
/// </param>
/// <param name="Strict">OpenAI's <c>strict</c>. Recorded only: a call chosen under <c>required</c> or a named
/// choice is always held to the schema by the grammar, strict or not.</param>
public sealed record ToolDefinition(string Name, string? Description, string ParametersJson, bool Strict = false)
{
    /// <summary>The schema of a function without parameters: an empty object and nothing else.</summary>
    public const string NoParameters = """{"type":"object","properties":{},"additionalProperties":false}""";
}

/// <summary>What <c>tool_choice</c> allows.</summary>
public enum ToolChoiceMode
{
    /// <summary>No calls: the answer is text (the tools are still shown to the model).</summary>
    None,

    /// <summary>The model chooses between text and calls in its family's format.</summary>
    Auto,

    /// <summary>The answer is one call (or, with parallel tool calls, one or more) to any of the tools.</summary>
    Required,

    /// <summary>The answer is exactly one call to the named function.</summary>
    Named,
}

/// <summary>A parsed <c>tool_choice</c>.</summary>
/// <param name="Mode">none, auto, required or a named function.</param>
/// <param name="FunctionName">For <see cref="ToolChoiceMode.Named"/>: the function that must be called.</param>
public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    public static readonly ToolChoice None = new(ToolChoiceMode.None);

    public static readonly ToolChoice Auto = new(ToolChoiceMode.Auto);

    public static readonly ToolChoice Required = new(ToolChoiceMode.Required);

    /// <summary>Whether the output is a grammar-enforced call (required or named).</summary>
    public bool IsForced => Mode is ToolChoiceMode.Required or ToolChoiceMode.Named;
}

/// <summary>A function call the model made, as the server returns it in <c>message.tool_calls</c>.</summary>
/// <param name="Id">"call_" and 24 random alphanumerics.</param>
/// <param name="Name">The function called.</param>
/// <param name="Arguments">The arguments as JSON text (OpenAI's <c>function.arguments</c> string).</param>
public sealed record ToolCall(string Id, string Name, string Arguments)
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>A fresh call id in OpenAI's shape.</summary>
    public static string NewId() => "call_" + System.Security.Cryptography.RandomNumberGenerator.GetString(Alphabet, 24);
}
