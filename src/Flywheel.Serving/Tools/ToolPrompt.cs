using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Templates;

namespace Flywheel.Serving.Tools;

/// <summary>
/// How tools reach the model: as the chat template's <c>tools</c> variable, in transformers' shape (a list of
/// <c>{"type": "function", "function": {"name", "description", "parameters"}}</c>), and, for a template that never
/// reads <c>tools</c> (the built-in models', Llama 3.0's), as a system turn describing them in the Hermes format,
/// so the model is told about the functions whatever its template.
/// </summary>
public static class ToolPrompt
{
    // The model reads this JSON: quotes and non-ASCII text as themselves, not \u escapes.
    private static readonly JsonSerializerOptions Readable = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The template's <c>tools</c> value.</summary>
    public static JsonElement ForTemplate(IReadOnlyList<ToolDefinition> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var list = new JsonArray();
        foreach (var tool in tools)
        {
            var function = new JsonObject { ["name"] = tool.Name };
            if (tool.Description is not null)
            {
                function["description"] = tool.Description;
            }

            function["parameters"] = JsonNode.Parse(tool.ParametersJson);
            list.Add(new JsonObject { ["type"] = "function", ["function"] = function });
        }

        return JsonSerializer.SerializeToElement(list);
    }

    /// <summary>Whether <paramref name="template"/> reads the <c>tools</c> variable at all.</summary>
    public static bool TemplateReadsTools(ChatTemplate template) =>
        template.Source.Contains("tools", StringComparison.Ordinal);

    /// <summary>
    /// <paramref name="messages"/> with the tools described in the system turn (added first when there is none),
    /// for templates that do not read <c>tools</c>.
    /// </summary>
    public static IReadOnlyList<ChatMessage> WithSystemDescription(IReadOnlyList<ChatMessage> messages, IReadOnlyList<ToolDefinition> tools)
    {
        var text = new StringBuilder("You may call one or more functions to answer. The functions, as JSON Schema signatures, inside <tools></tools>:\n<tools>\n");
        foreach (var tool in ForTemplate(tools).EnumerateArray())
        {
            text.Append(JsonSerializer.Serialize(tool, Readable)).Append('\n');
        }

        text.Append("</tools>\nFor each call, answer with a JSON object holding the function name and its arguments inside <tool_call></tool_call>:\n")
            .Append("<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>");
        if (messages.Count > 0 && messages[0].Role == "system")
        {
            return [messages[0] with { Content = messages[0].Content + "\n\n" + text }, .. messages.Skip(1)];
        }

        return [new ChatMessage("system", text.ToString()), .. messages];
    }
}
