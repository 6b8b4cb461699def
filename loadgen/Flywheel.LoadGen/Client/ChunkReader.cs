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
    /// </summary>
    public static bool HasContent(JsonElement root, ApiEndpoint endpoint, bool streaming)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array)
        {
            return false;
        }
        foreach (var choice in choices.EnumerateArray())
        {
            var text = endpoint == ApiEndpoint.Completions
                ? Property(choice, "text")
                : Property(Property(choice, streaming ? "delta" : "message"), "content");
            if (text is { ValueKind: JsonValueKind.String } t && t.GetString()!.Length > 0)
            {
                return true;
            }
        }
        return false;
    }

    private static JsonElement? Property(JsonElement? element, string name) =>
        element is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty(name, out var value) ? value : null;
}
