using Flywheel.Serving.Tools;
using Flywheel.Templates;

namespace Flywheel.Serving;

/// <summary>What the client asked for in <c>response_format</c>.</summary>
public enum ResponseFormatKind
{
    Text,
    JsonObject,
    JsonSchema,
}

/// <summary>
/// The whitespace a constrained JSON answer may have between its tokens (a Flywheel extension,
/// <c>json_whitespace</c>). Inside strings nothing changes, and none is allowed before or after the value.
/// </summary>
public enum JsonWhitespace
{
    /// <summary>
    /// Runs of at most <see cref="Flywheel.Structured.JsonSchemaCompileOptions.DefaultMaxWhitespace"/> characters:
    /// enough for a line break and indentation, not for a model to spend its tokens on blank lines (the default).
    /// </summary>
    Bounded,

    /// <summary>None at all: the tightest JSON, the fewest tokens.</summary>
    Compact,

    /// <summary>Runs of any length, as JSON allows; a model can then spend every token on whitespace.</summary>
    Any,
}

/// <summary><c>response_format</c>: plain text, any JSON object, or JSON following a schema.</summary>
/// <param name="SchemaJson">The schema as JSON text (only for <see cref="ResponseFormatKind.JsonSchema"/>).</param>
/// <param name="Whitespace">The whitespace the grammar allows between tokens (only for JSON formats).</param>
public sealed record ResponseFormat(ResponseFormatKind Kind, string? Name = null, string? SchemaJson = null, bool Strict = false,
    JsonWhitespace Whitespace = JsonWhitespace.Bounded)
{
    public static readonly ResponseFormat Text = new(ResponseFormatKind.Text);
}

/// <summary>
/// A validated completions or chat-completions request, with OpenAI's defaults filled in. The edge that
/// parses it (the OpenAI API's request parser) checked every field for type and range.
/// </summary>
public sealed record ApiRequest
{
    public required bool IsChat { get; init; }

    public required string Model { get; init; }

    /// <summary>The prompt text (completions only).</summary>
    public string? Prompt { get; init; }

    /// <summary>The conversation (chat only).</summary>
    public IReadOnlyList<ChatMessage>? Messages { get; init; }

    /// <summary>Upper bound on generated tokens; null = up to the context length.</summary>
    public int? MaxTokens { get; init; }

    public double Temperature { get; init; } = 1.0;

    public double TopP { get; init; } = 1.0;

    /// <summary>0 = off.</summary>
    public int TopK { get; init; }

    public double MinP { get; init; }

    public long? Seed { get; init; }

    public IReadOnlyList<string> Stop { get; init; } = [];

    public double PresencePenalty { get; init; }

    public double FrequencyPenalty { get; init; }

    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Top-N log probabilities per token; null = none.</summary>
    public int? TopLogprobs { get; init; }

    public bool Stream { get; init; }

    public bool IncludeUsage { get; init; }

    public string? User { get; init; }

    public ResponseFormat ResponseFormat { get; init; } = ResponseFormat.Text;

    /// <summary>
    /// For response_format json_object/json_schema: mask tokens with the schema's grammar while decoding
    /// (a Flywheel extension, <c>constrained_decoding</c>; default true). Off, output is only validated and repaired.
    /// </summary>
    public bool ConstrainedDecoding { get; init; } = true;

    /// <summary>
    /// For response_format json_object/json_schema: most repair turns after an invalid answer (a Flywheel
    /// extension, <c>max_repairs</c>, 0..5); null = the server's default. Streams are validated, never repaired.
    /// </summary>
    public int? MaxRepairs { get; init; }

    /// <summary>The functions the model may call (chat only; OpenAI's <c>tools</c>); empty = none.</summary>
    public IReadOnlyList<ToolDefinition> Tools { get; init; } = [];

    /// <summary>OpenAI's <c>tool_choice</c>; its default is auto when there are tools, none otherwise.</summary>
    public ToolChoice ToolChoice { get; init; } = ToolChoice.None;

    /// <summary>OpenAI's <c>parallel_tool_calls</c> (default true): whether one answer may hold several calls.</summary>
    public bool ParallelToolCalls { get; init; } = true;

    /// <summary>Keep generating past end-of-sequence tokens (a vLLM extension, used by load generators).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>
    /// The LoRA adapter <see cref="Model"/> named, set by the server once it holds a lease on it; null = the
    /// base model. Every generation of the request (repair turns included) runs on its slot.
    /// </summary>
    public Adapters.LoadedAdapter? Adapter { get; init; }
}
