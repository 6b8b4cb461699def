namespace Flywheel.Templates;

/// <summary>One function call made by the assistant, as in OpenAI's <c>tool_calls</c>.</summary>
/// <param name="Id">The call id (e.g. "call_abc123").</param>
/// <param name="Name">The function name.</param>
/// <param name="Arguments">
/// The arguments as JSON text. Templates receive a JSON object as a dict (as vLLM and transformers pass
/// it, so <c>arguments | tojson</c> re-serializes it); anything else stays a string.
/// </param>
public sealed record ChatToolCall(string Id, string Name, string Arguments);
