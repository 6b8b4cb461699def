namespace Flywheel.Templates;

/// <summary>One turn of a conversation, as a chat template sees it.</summary>
/// <param name="Role">"system", "user", "assistant" or "tool".</param>
/// <param name="Content">The turn's text (may be empty).</param>
/// <remarks>
/// Templates see the message as a dict with "role" and "content", plus "name", "tool_call_id",
/// "reasoning_content" and "tool_calls" only when those are set (unset ones are undefined, which is what
/// templates test with <c>is defined</c>).
/// </remarks>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>Tool calls made in an assistant turn (OpenAI's <c>tool_calls</c>), or null.</summary>
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>Optional participant or tool name (OpenAI's <c>name</c>).</summary>
    public string? Name { get; init; }

    /// <summary>For a "tool" turn: the id of the call it answers (OpenAI's <c>tool_call_id</c>).</summary>
    public string? ToolCallId { get; init; }

    /// <summary>An assistant turn's reasoning kept apart from its content (templates such as Qwen3 read it).</summary>
    public string? ReasoningContent { get; init; }
}
