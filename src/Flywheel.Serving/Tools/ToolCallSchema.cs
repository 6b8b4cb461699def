using System.Text.Json;
using System.Text.Json.Nodes;

namespace Flywheel.Serving.Tools;

/// <summary>
/// The JSON Schema of a tool-call answer in the neutral form the server parses: one call is
/// <c>{"name": "f", "arguments": {...}}</c> (name first, so a stream knows the function before its
/// arguments), several are an array of them. Compiled like a response_format schema, it makes the grammar
/// enforce the call: an allowed name (a <c>const</c> per function, under <c>anyOf</c>) followed by
/// arguments valid against that function's own schema. No new grammar keyword is needed.
/// </summary>
/// <remarks>
/// Each function's parameters go under the root's <c>$defs</c> as <c>tool_i</c>, and its own top-level
/// <c>$defs</c>/<c>definitions</c> entries are hoisted beside it as <c>tool_i_NAME</c> (the validator resolves
/// definitions at the root only). References inside it (<c>#</c>, <c>#/...</c>) are rewritten to match, so a
/// schema that refers to its own definitions keeps meaning what it meant alone.
/// </remarks>
public static class ToolCallSchema
{
    /// <summary>The schema of an answer calling one of <paramref name="tools"/> (once, or one or more times when <paramref name="several"/>).</summary>
    /// <param name="tools">The functions that may be called.</param>
    /// <param name="several">Whether the answer is an array of one or more calls rather than one call.</param>
    /// <param name="argumentsKey">The member holding the arguments: <c>arguments</c> in the neutral form, <c>parameters</c> as Llama-3 writes a call.</param>
    public static string Build(IReadOnlyList<ToolDefinition> tools, bool several, string argumentsKey = "arguments")
    {
        ArgumentNullException.ThrowIfNull(tools);
        if (tools.Count == 0)
        {
            throw new ArgumentException("at least one tool is needed", nameof(tools));
        }

        var defs = new JsonObject();
        var branches = new JsonArray();
        for (var i = 0; i < tools.Count; i++)
        {
            var key = $"tool_{i}";
            var parameters = Rebase(JsonNode.Parse(tools[i].ParametersJson), key);
            if (parameters is JsonObject obj)
            {
                foreach (var container in (string[])["$defs", "definitions"])
                {
                    if (obj[container] is JsonObject own)
                    {
                        obj.Remove(container);
                        foreach (var (name, definition) in own.ToList())
                        {
                            own.Remove(name);
                            defs[$"{key}_{name}"] = definition;
                        }
                    }
                }
            }

            defs[key] = parameters;
            branches.Add(new JsonObject
            {
                ["type"] = "object",
                ["properties"] = new JsonObject
                {
                    ["name"] = new JsonObject { ["const"] = tools[i].Name },
                    [argumentsKey] = new JsonObject { ["$ref"] = "#/$defs/" + key },
                },
                ["required"] = new JsonArray("name", argumentsKey),
                ["additionalProperties"] = false,
            });
        }

        JsonNode call = branches.Count == 1 ? branches[0]!.DeepClone() : new JsonObject { ["anyOf"] = branches };
        var root = several
            ? new JsonObject { ["type"] = "array", ["items"] = call, ["minItems"] = 1 }
            : (JsonObject)call;
        root["$defs"] = defs;
        return root.ToJsonString();
    }

    // Keywords whose values are data, not schemas: a "$ref" key inside them is not a reference.
    private static readonly HashSet<string> DataKeywords = new(StringComparer.Ordinal) { "const", "enum", "default", "examples" };

    /// <summary>
    /// Rewrites the document-local references of <paramref name="node"/> for its place under the root's <c>$defs</c>
    /// as <paramref name="key"/>: <c>#/$defs/NAME...</c> and <c>#/definitions/NAME...</c> to <c>#/$defs/KEY_NAME...</c>,
    /// any other <c>#...</c> to <c>#/$defs/KEY...</c>.
    /// </summary>
    internal static JsonNode? Rebase(JsonNode? node, string key)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, value) in obj.ToList())
                {
                    if (name == "$ref" && value is JsonValue v && v.TryGetValue<string>(out var target) && IsLocal(target))
                    {
                        obj[name] = Retarget(target, key);
                    }
                    else if (!DataKeywords.Contains(name))
                    {
                        Rebase(value, key);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Rebase(item, key);
                }

                break;
        }

        return node;
    }

    private static string Retarget(string target, string key)
    {
        foreach (var container in (string[])["#/$defs/", "#/definitions/"])
        {
            if (target.StartsWith(container, StringComparison.Ordinal) && target.Length > container.Length)
            {
                return $"#/$defs/{key}_{target[container.Length..]}";
            }
        }

        return $"#/$defs/{key}{target[1..]}";
    }

    // "#" or a JSON pointer "#/..."; anchors ("#name") and other documents are left for the compiler to judge.
    private static bool IsLocal(string target) => target == "#" || target.StartsWith("#/", StringComparison.Ordinal);

    /// <summary>The tools a choice allows: all of them, or the one it names.</summary>
    public static IReadOnlyList<ToolDefinition> Allowed(IReadOnlyList<ToolDefinition> tools, ToolChoice choice) =>
        choice.Mode == ToolChoiceMode.Named ? [.. tools.Where(t => t.Name == choice.FunctionName)] : tools;

    /// <summary>Reads a neutral-form answer (<see cref="Build"/>'s shape); null when it is not one.</summary>
    public static IReadOnlyList<(string Name, string Arguments)>? Parse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                return CallOf(root) is { } one ? [one] : null;
            }

            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
            {
                return null;
            }

            var calls = new List<(string, string)>();
            foreach (var item in root.EnumerateArray())
            {
                if (CallOf(item) is not { } call)
                {
                    return null;
                }

                calls.Add(call);
            }

            return calls;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>{"name": string, "arguments": object} (or "parameters", as Llama-3 writes it) to (name, arguments text).</summary>
    internal static (string Name, string Arguments)? CallOf(JsonElement call)
    {
        if (call.ValueKind != JsonValueKind.Object
            || !call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String
            || !(call.TryGetProperty("arguments", out var arguments) || call.TryGetProperty("parameters", out arguments))
            || arguments.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        return (name.GetString()!, arguments.GetRawText());
    }
}
