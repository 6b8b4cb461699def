namespace Flywheel.Templates;

/// <summary>One turn of a conversation, as a chat template sees it.</summary>
/// <param name="Role">"system", "user", "assistant" or "tool".</param>
/// <param name="Content">The turn's text (may be empty).</param>
public sealed record ChatMessage(string Role, string Content);
