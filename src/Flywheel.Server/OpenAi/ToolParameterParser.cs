using System.Text.Json;
using System.Text.RegularExpressions;
using Flywheel.Serving.Tools;
using Flywheel.Templates;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Reads the tool-calling parameters of a chat request (<c>tools</c>, <c>tool_choice</c>, <c>parallel_tool_calls</c>)
/// and the tool parts of messages (an assistant's <c>tool_calls</c>, a tool turn's <c>tool_call_id</c>). Every mistake
/// is a 400 naming the field, e.g. <c>tools[1].function.name</c>. Whether a parameters schema can be enforced is
/// decided later, by the compiler (a refusal names <c>tools[i].function.parameters</c>).
/// </summary>
internal static partial class ToolParameterParser
{
    /// <summary>Most tools one request may declare (OpenAI's limit).</summary>
    public const int MaxToolCount = 128;

    [GeneratedRegex("^[a-zA-Z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();

    /// <summary>The request's tools (empty when none), its tool_choice (OpenAI's default when absent) and parallel_tool_calls.</summary>
    public static (IReadOnlyList<ToolDefinition> Tools, ToolChoice Choice, bool Parallel) Parse(RequestParameterReader r)
    {
        var tools = ParseTools(r);
        var choice = ParseChoice(r, tools);
        var parallel = r.Bool("parallel_tool_calls") ?? true;
        return (tools, choice, parallel);
    }

    private static List<ToolDefinition> ParseTools(RequestParameterReader r)
    {
        if (!r.TryGet("tools", out var tools) || tools.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (tools.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiError.BadRequest("'tools' must be an array of function tools.", "tools", "invalid_type");
        }

        if (tools.GetArrayLength() is 0 or > MaxToolCount)
        {
            throw OpenAiError.BadRequest($"'tools' must hold 1 to {MaxToolCount} tools; got {tools.GetArrayLength()}.", "tools");
        }

        var list = new List<ToolDefinition>();
        var index = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var prefix = $"tools[{index++}].";
            var fr = FunctionOf(new RequestParameterReader(tool, prefix), prefix);
            var name = fr.RequiredString("name");
            if (!FunctionName().IsMatch(name))
            {
                throw OpenAiError.BadRequest($"{prefix}function.name must be 1 to 64 of a-z, A-Z, 0-9, '_' and '-'; got '{name}'.", prefix + "function.name");
            }

            if (list.Any(t => t.Name == name))
            {
                throw OpenAiError.BadRequest($"{prefix}function.name '{name}' is declared twice.", prefix + "function.name");
            }

            var description = fr.String("description");
            var parameters = ToolDefinition.NoParameters;
            if (fr.TryGet("parameters", out var schema) && schema.ValueKind != JsonValueKind.Null)
            {
                parameters = schema.ValueKind == JsonValueKind.Object ? schema.GetRawText()
                    : throw OpenAiError.BadRequest($"'{prefix}function.parameters' must be a JSON Schema object.", prefix + "function.parameters", "invalid_type");
            }

            var strict = fr.Bool("strict") ?? false;
            fr.EnsureNoUnknown();
            list.Add(new ToolDefinition(name, description, parameters, strict));
        }

        return list;
    }

    private static ToolChoice ParseChoice(RequestParameterReader r, List<ToolDefinition> tools)
    {
        if (!r.TryGet("tool_choice", out var choice) || choice.ValueKind == JsonValueKind.Null)
        {
            return tools.Count == 0 ? ToolChoice.None : ToolChoice.Auto;
        }

        ToolChoice parsed;
        if (choice.ValueKind == JsonValueKind.String)
        {
            parsed = choice.GetString() switch
            {
                "none" => ToolChoice.None,
                "auto" => ToolChoice.Auto,
                "required" => ToolChoice.Required,
                var other => throw OpenAiError.BadRequest($"tool_choice must be none, auto, required or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}; got '{other}'.", "tool_choice"),
            };
        }
        else if (choice.ValueKind == JsonValueKind.Object)
        {
            var cr = new RequestParameterReader(choice, "tool_choice.");
            var type = cr.RequiredString("type");
            if (type != "function")
            {
                throw OpenAiError.BadRequest($"tool_choice.type must be 'function'; got '{type}'.", "tool_choice.type");
            }

            var function = cr.Object("function") ?? throw OpenAiError.BadRequest("'tool_choice.function' is required.", "tool_choice.function");
            cr.EnsureNoUnknown();
            var fr = new RequestParameterReader(function, "tool_choice.function.");
            var name = fr.RequiredString("name");
            fr.EnsureNoUnknown();
            if (tools.Count > 0 && tools.All(t => t.Name != name))
            {
                throw OpenAiError.BadRequest($"tool_choice.function.name '{name}' is not one of the tools.", "tool_choice.function.name");
            }

            parsed = new ToolChoice(ToolChoiceMode.Named, name);
        }
        else
        {
            throw OpenAiError.BadRequest("tool_choice must be a string or an object.", "tool_choice", "invalid_type");
        }

        if (tools.Count == 0 && parsed.Mode != ToolChoiceMode.None)
        {
            throw OpenAiError.BadRequest("tool_choice requires tools.", "tool_choice");
        }

        return parsed;
    }

    /// <summary>An assistant turn's <c>tool_calls</c> (null when absent).</summary>
    public static IReadOnlyList<ChatToolCall>? ParseCalls(RequestParameterReader mr, string prefix, string role)
    {
        if (!mr.TryGet("tool_calls", out var calls) || calls.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (role != "assistant")
        {
            throw OpenAiError.BadRequest($"{prefix}tool_calls is allowed only in assistant messages.", prefix + "tool_calls");
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw OpenAiError.BadRequest($"'{prefix}tool_calls' must be an array.", prefix + "tool_calls", "invalid_type");
        }

        var list = new List<ChatToolCall>();
        var index = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var cp = $"{prefix}tool_calls[{index++}].";
            var cr = new RequestParameterReader(call, cp);
            var id = cr.RequiredString("id");
            var fr = FunctionOf(cr, cp);
            var name = fr.RequiredString("name");
            var arguments = fr.RequiredString("arguments");
            fr.EnsureNoUnknown();
            list.Add(new ChatToolCall(id, name, arguments));
        }

        return list;
    }

    /// <summary>
    /// A tool turn must answer a call of the assistant turn before it (OpenAI's rule): its <c>tool_call_id</c> is
    /// required and must be one of that turn's call ids.
    /// </summary>
    public static void CheckToolTurn(IReadOnlyList<ChatMessage> earlier, ChatMessage tool, string prefix)
    {
        if (tool.ToolCallId is null)
        {
            throw OpenAiError.BadRequest($"'{prefix}tool_call_id' is required in tool messages.", prefix + "tool_call_id");
        }

        var caller = earlier.LastOrDefault(m => m.Role != "tool");
        if (caller?.ToolCalls is not { } calls || calls.All(c => c.Id != tool.ToolCallId))
        {
            throw OpenAiError.BadRequest(
                $"{prefix}tool_call_id '{tool.ToolCallId}' does not answer a tool call of the preceding assistant message.", prefix + "tool_call_id");
        }
    }

    /// <summary>
    /// The <c>function</c> object of a tool or a call, whose <c>type</c> must be "function"; nothing else may stand
    /// beside the two (read through <paramref name="reader"/>, whose fields are named from <paramref name="prefix"/>).
    /// </summary>
    private static RequestParameterReader FunctionOf(RequestParameterReader reader, string prefix)
    {
        var type = reader.RequiredString("type");
        if (type != "function")
        {
            throw OpenAiError.BadRequest($"{prefix}type must be 'function'; got '{type}'.", prefix + "type");
        }

        var function = reader.Object("function") ?? throw OpenAiError.BadRequest($"'{prefix}function' is required.", prefix + "function");
        reader.EnsureNoUnknown();
        return new RequestParameterReader(function, prefix + "function.");
    }
}
