using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Flywheel.Templates;

/// <summary>Converts .NET values handed to ChatTemplate.Render into template values.</summary>
internal static class TemplateValueConverter
{
    private const int MaxDepth = 64;

    public static OrderedDictionary<string, object?> FromMessage(ChatMessage message)
    {
        var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["role"] = message.Role,
            ["content"] = message.Content,
        };
        if (message.Name is not null)
        {
            dict["name"] = message.Name;
        }

        if (message.ToolCallId is not null)
        {
            dict["tool_call_id"] = message.ToolCallId;
        }

        if (message.ReasoningContent is not null)
        {
            dict["reasoning_content"] = message.ReasoningContent;
        }

        if (message.ToolCalls is not null)
        {
            dict["tool_calls"] = message.ToolCalls.Select(call => (object?)FromToolCall(call)).ToList();
        }

        return dict;
    }

    private static OrderedDictionary<string, object?> FromToolCall(ChatToolCall call)
    {
        object? arguments = call.Arguments;
        try
        {
            using var document = JsonDocument.Parse(call.Arguments);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                arguments = FromJson(document.RootElement, 0);
            }
        }
        catch (JsonException)
        {
            // Not JSON: the template gets the text as it is.
        }

        return new OrderedDictionary<string, object?>(StringComparer.Ordinal)
        {
            ["id"] = call.Id,
            ["type"] = "function",
            ["function"] = new OrderedDictionary<string, object?>(StringComparer.Ordinal)
            {
                ["name"] = call.Name,
                ["arguments"] = arguments,
            },
        };
    }

    /// <summary>
    /// Accepts null, string, bool, integer and floating-point numbers, JsonElement/JsonNode, ChatMessage,
    /// ChatToolCall, string-keyed dictionaries and other enumerables; <paramref name="path"/> names the
    /// value in errors.
    /// </summary>
    public static object? FromClr(object? value, string path, int depth = 0)
    {
        if (depth > MaxDepth)
        {
            throw new TemplateException($"{path}: nested more than {MaxDepth} levels deep");
        }

        switch (value)
        {
            case null or string or bool or long or double:
                return value;
            case int or short or sbyte or byte or ushort or uint:
                return Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
            case ulong u:
                return u <= long.MaxValue ? (long)u : (double)u;
            case float or decimal:
                return Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture);
            case JsonElement element:
                return FromJson(element, depth);
            case JsonNode node:
                return FromJson(JsonSerializer.SerializeToElement(node), depth);
            case ChatMessage message:
                return FromMessage(message);
            case ChatToolCall call:
                return FromToolCall(call);
            case IEnumerable<KeyValuePair<string, object?>> pairs:
                var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (k, v) in pairs)
                {
                    dict[k] = FromClr(v, $"{path}.{k}", depth + 1);
                }

                return dict;
            case IDictionary map:
                var converted = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (DictionaryEntry entry in map)
                {
                    var key = entry.Key as string ?? throw new TemplateException($"{path}: dictionary keys must be strings");
                    converted[key] = FromClr(entry.Value, $"{path}.{key}", depth + 1);
                }

                return converted;
            case IEnumerable items:
                var list = new List<object?>();
                var index = 0;
                foreach (var item in items)
                {
                    list.Add(FromClr(item, $"{path}[{index++}]", depth + 1));
                }

                return list;
            default:
                throw new TemplateException($"{path}: values of type {value.GetType().Name} cannot be passed to a template");
        }
    }

    private static object? FromJson(JsonElement element, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new TemplateException($"JSON value nested more than {MaxDepth} levels deep");
        }

        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var property in element.EnumerateObject())
                {
                    dict[property.Name] = FromJson(property.Value, depth + 1);
                }

                return dict;
            case JsonValueKind.Array:
                return element.EnumerateArray().Select(e => FromJson(e, depth + 1)).ToList();
            case JsonValueKind.String:
                return element.GetString();
            case JsonValueKind.Number:
                return element.TryGetInt64(out var l) ? (object)l : element.GetDouble();
            case JsonValueKind.True:
                return true;
            case JsonValueKind.False:
                return false;
            default:
                return null;
        }
    }
}
