using Flywheel.Sampling;
using Flywheel.Serving.Tools;

namespace Flywheel.Serving;

/// <summary>One event of a request's output stream: a <see cref="TextDelta"/> or the <see cref="Finished"/> event.</summary>
public abstract record GenerationUpdate;

/// <summary>
/// New output text and the tokens that produced it. Text may lag tokens (an incomplete UTF-8 sequence or
/// a possible stop string is held back), so <see cref="Text"/> may be empty while <see cref="Tokens"/> is not;
/// the server carries such tokens over to the next non-empty delta.
/// </summary>
/// <param name="Text">Text to append to the output (already stop-string trimmed).</param>
/// <param name="Tokens">The sampled tokens, with log probabilities when the request asked for them.</param>
public sealed record TextDelta(string Text, IReadOnlyList<GeneratedToken> Tokens) : GenerationUpdate;

/// <summary>The last event of a stream.</summary>
/// <param name="Reason">Why generation ended.</param>
/// <param name="PromptTokenCount">Tokens in the prompt.</param>
/// <param name="CompletionTokenCount">Tokens generated.</param>
/// <param name="ErrorMessage">For <see cref="FinishReason.Error"/>: what went wrong (sent to the client).</param>
/// <param name="Structured">For response_format requests and tool calls: how validation and repair went; otherwise null.</param>
public sealed record Finished(FinishReason Reason, int PromptTokenCount, int CompletionTokenCount, string? ErrorMessage = null, StructuredOutputReport? Structured = null) : GenerationUpdate
{
    /// <summary>
    /// The calls the answer made (requests with tools), in order; null or empty when it made none. The answer's
    /// <see cref="TextDelta"/>s then hold only its text content, and the calls also went out as <see cref="ToolCallDelta"/>s.
    /// </summary>
    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }
}

/// <summary>
/// A piece of a tool call, as OpenAI streams them: the first piece of call <paramref name="Index"/> carries its
/// id and function name (and arguments ""), the later ones only fragments of the arguments' JSON text.
/// </summary>
/// <param name="Index">The call's position in the answer's calls (0-based).</param>
/// <param name="Id">The call id on its first piece; null after.</param>
/// <param name="Name">The function name on its first piece; null after.</param>
/// <param name="Arguments">Text to append to the call's arguments.</param>
public sealed record ToolCallDelta(int Index, string? Id, string? Name, string Arguments) : GenerationUpdate;

/// <summary>One sampled token.</summary>
/// <param name="Id">Vocabulary id.</param>
/// <param name="Text">The token decoded on its own (what OpenAI's logprobs call "token"; bytes are its UTF-8).</param>
/// <param name="Logprob">Natural-log probability of the token, or null when logprobs were not asked for.</param>
/// <param name="TopLogprobs">The most likely alternatives, best first (up to the request's top_logprobs), or null.</param>
public sealed record GeneratedToken(int Id, string Text, double? Logprob = null, IReadOnlyList<TokenCandidate>? TopLogprobs = null);

/// <summary>An alternative token and its log probability.</summary>
public sealed record TokenCandidate(int Id, string Text, double Logprob);

/// <summary>How a response_format request went: whether the final text validated against the schema, how many
/// repair turns it took, whether decoding was grammar-constrained, and the validator's errors when it did not validate.</summary>
public sealed record StructuredOutputReport(bool Valid, int Repairs, bool Constrained, IReadOnlyList<string>? Errors);
