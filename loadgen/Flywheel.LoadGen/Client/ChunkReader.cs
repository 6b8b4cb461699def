using System.Text.Json;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Client;

/// <summary>Reads the parts of OpenAI response objects and stream chunks that the measurements need.</summary>
internal static class ChunkReader
{
    /// <summary>True when the object is an error ({"error": {...}} or {"error": "..."}); gives its message.</summary>
    public static bool TryGetError(JsonElement root, out string message)
    {
        message = "";
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("error", out var error) || error.ValueKind == JsonValueKind.Null)
        {
            return false;
        }
        message = error.ValueKind switch
        {
            JsonValueKind.String => error.GetString() ?? "",
            JsonValueKind.Object when error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String => m.GetString() ?? "",
            _ => error.GetRawText(),
        };
        return true;
    }

    /// <summary>
    /// True when any choice carries text: delta.content (chat chunk), message.content (chat
    /// response) or text (completions). The role-only first chunk of a chat stream has none.
    /// Reasoning text (reasoning_content, or reasoning) counts too: those are generated tokens.
    /// </summary>
    public static bool HasContent(JsonElement root, ApiEndpoint endpoint, bool streaming)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return false;
        }
        foreach (var choice in choices.EnumerateArray())
        {
            if (endpoint == ApiEndpoint.Completions)
            {
                if (IsNonEmptyString(Property(choice, "text")))
                {
                    return true;
                }
                continue;
            }
            var message = Property(choice, streaming ? "delta" : "message");
            if (IsNonEmptyString(Property(message, "content"))
                || IsNonEmptyString(Property(message, "reasoning_content"))
                || IsNonEmptyString(Property(message, "reasoning")))
            {
                return true;
            }
        }
        return false;
    }

    private static bool IsNonEmptyString(JsonElement? element) =>
        element is { ValueKind: JsonValueKind.String } e && e.GetString()!.Length > 0;

    private static JsonElement? Property(JsonElement? element, string name) =>
        element is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty(name, out var value) ? value : null;
}
