using System.Text.Json.Serialization;
using Flywheel.Sampling;
using Flywheel.Serving;

namespace Flywheel.Server.OpenAi;

// Response bodies exactly as OpenAI sends them. Null fields are written (OpenAI sends
// "logprobs": null, "usage": null in stream chunks), except where marked WhenWritingNull.
// Property order follows OpenAI's ("id", "object" first) so bodies read the same.

public sealed record Usage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

public sealed record ChatMessageBody(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string? Content)
{
    /// <summary>The calls the answer made; absent when it made none (content is then null when there is no text).</summary>
    [JsonPropertyName("tool_calls"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ToolCallBody>? ToolCalls { get; init; }
}

public sealed record ChatDelta(
    [property: JsonPropertyName("role"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonPropertyName("content"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content)
{
    /// <summary>Pieces of tool calls (one per chunk), as OpenAI streams them.</summary>
    [JsonPropertyName("tool_calls"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ToolCallDeltaBody>? ToolCalls { get; init; }
}

public sealed record ToolCallFunction(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("arguments")] string Arguments);

/// <summary>One call in <c>message.tool_calls</c>: <c>function.arguments</c> is the arguments' JSON as a string.</summary>
public sealed record ToolCallBody(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("function")] ToolCallFunction Function);

public sealed record ToolCallDeltaFunction(
    [property: JsonPropertyName("name"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name,
    [property: JsonPropertyName("arguments")] string Arguments);

/// <summary>A piece of a streamed call: the first carries id, type and name (arguments ""), later ones only index and arguments.</summary>
public sealed record ToolCallDeltaBody(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Id,
    [property: JsonPropertyName("type"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Type,
    [property: JsonPropertyName("function")] ToolCallDeltaFunction Function);

public sealed record TopLogprob(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("logprob")] double Logprob,
    [property: JsonPropertyName("bytes")] int[] Bytes);

public sealed record TokenLogprob(
    [property: JsonPropertyName("token")] string Token,
    [property: JsonPropertyName("logprob")] double Logprob,
    [property: JsonPropertyName("bytes")] int[] Bytes,
    [property: JsonPropertyName("top_logprobs")] IReadOnlyList<TopLogprob> TopLogprobs);

public sealed record ChatLogprobs([property: JsonPropertyName("content")] IReadOnlyList<TokenLogprob> Content);

public sealed record ChatChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("message")] ChatMessageBody Message,
    [property: JsonPropertyName("logprobs")] ChatLogprobs? Logprobs,
    [property: JsonPropertyName("finish_reason")] string? FinishReason);

public sealed record ChatChunkChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("delta")] ChatDelta Delta,
    [property: JsonPropertyName("logprobs")] ChatLogprobs? Logprobs,
    [property: JsonPropertyName("finish_reason")] string? FinishReason);

public sealed record ChatCompletion(
    [property: JsonPropertyName("id"), JsonPropertyOrder(-2)] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatChoice> Choices,
    [property: JsonPropertyName("usage")] Usage Usage)
{
    [JsonPropertyName("object"), JsonPropertyOrder(-1)]
    public string Object => "chat.completion";

    /// <summary>Only on response_format and tool-call requests (non-streaming bodies, and the stream's finish chunk).</summary>
    [JsonPropertyName("structured_output"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public StructuredOutputInfo? StructuredOutput { get; init; }
}

public sealed record ChatCompletionChunk(
    [property: JsonPropertyName("id"), JsonPropertyOrder(-2)] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatChunkChoice> Choices,
    [property: JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage)
{
    [JsonPropertyName("object"), JsonPropertyOrder(-1)]
    public string Object => "chat.completion.chunk";

    /// <summary>Only on response_format and tool-call requests (non-streaming bodies, and the stream's finish chunk).</summary>
    [JsonPropertyName("structured_output"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public StructuredOutputInfo? StructuredOutput { get; init; }

    /// <summary>Write <c>"usage": null</c> when there is no usage (stream_options.include_usage asks for that).</summary>
    [JsonIgnore]
    public bool WriteNullUsage { get; init; }
}

/// <summary>Legacy completions log probabilities (parallel arrays).</summary>
public sealed record CompletionLogprobs(
    [property: JsonPropertyName("tokens")] IReadOnlyList<string> Tokens,
    [property: JsonPropertyName("token_logprobs")] IReadOnlyList<double> TokenLogprobs,
    [property: JsonPropertyName("top_logprobs")] IReadOnlyList<IReadOnlyDictionary<string, double>> TopLogprobs,
    [property: JsonPropertyName("text_offset")] IReadOnlyList<int> TextOffset);

public sealed record CompletionChoice(
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("logprobs")] CompletionLogprobs? Logprobs,
    [property: JsonPropertyName("finish_reason")] string? FinishReason);

public sealed record TextCompletion(
    [property: JsonPropertyName("id"), JsonPropertyOrder(-2)] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<CompletionChoice> Choices,
    [property: JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] Usage? Usage)
{
    [JsonPropertyName("object"), JsonPropertyOrder(-1)]
    public string Object => "text_completion";

    /// <summary>Only on response_format and tool-call requests (non-streaming bodies, and the stream's finish chunk).</summary>
    [JsonPropertyName("structured_output"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public StructuredOutputInfo? StructuredOutput { get; init; }

    /// <summary>Write <c>"usage": null</c> when there is no usage (stream_options.include_usage asks for that).</summary>
    [JsonIgnore]
    public bool WriteNullUsage { get; init; }
}

/// <summary>
/// Flywheel's report on a response_format request, a forced tool call, or an auto answer that made or began a call
/// (an extension field, <c>structured_output</c>; OpenAI clients ignore it): whether the final text validated
/// against the schema, how many repair turns it took, whether decoding was grammar-constrained, and the
/// validator's errors when it did not validate.
/// </summary>
public sealed record StructuredOutputInfo(
    [property: JsonPropertyName("valid")] bool Valid,
    [property: JsonPropertyName("repairs")] int Repairs,
    [property: JsonPropertyName("constrained")] bool Constrained,
    [property: JsonPropertyName("errors"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Errors)
{
    /// <summary>The serving layer's report in the wire shape; null for requests without response_format.</summary>
    public static StructuredOutputInfo? From(StructuredOutputReport? report) =>
        report is null ? null : new(report.Valid, report.Repairs, report.Constrained, report.Errors);
}

/// <param name="Root">What the model was loaded from, as vLLM says it: the base's name, an adapter's folder.</param>
/// <param name="Parent">For a LoRA adapter, the base model's id; null for the base.</param>
public sealed record ModelCard(
    [property: JsonPropertyName("id"), JsonPropertyOrder(-2)] string Id,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy,
    [property: JsonPropertyName("max_model_len")] int MaxModelLength,
    [property: JsonPropertyName("root")] string? Root = null,
    [property: JsonPropertyName("parent")] string? Parent = null)
{
    [JsonPropertyName("object"), JsonPropertyOrder(-1)]
    public string Object => "model";
}

public sealed record ModelList([property: JsonPropertyName("data")] IReadOnlyList<ModelCard> Data)
{
    [JsonPropertyName("object"), JsonPropertyOrder(-1)]
    public string Object => "list";
}
