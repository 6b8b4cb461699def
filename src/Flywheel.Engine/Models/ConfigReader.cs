using System.Text.Json;
using System.Text.Json.Nodes;

namespace Flywheel.Models;

/// <summary>Typed reads from a JSON tree whose errors name the file and the field's JSON path.</summary>
internal sealed class ConfigReader(string file)
{
    public JsonObject Object(JsonNode? parent, string path) =>
        Node(parent, path) as JsonObject ?? throw Error(path, "must be an object");

    public JsonNode Node(JsonNode? parent, string path)
    {
        var node = Child(parent, path);
        return node ?? throw new ModelConfigException($"{file}: missing required field '{path}'.");
    }

    public string String(JsonNode? parent, string path) =>
        OptionalString(parent, path) ?? throw new ModelConfigException($"{file}: missing required field '{path}'.");

    public string? OptionalString(JsonNode? parent, string path)
    {
        var node = Child(parent, path);
        if (node is null)
        {
            return null;
        }

        return node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw Error(path, "must be a string");
    }

    /// <summary>A tensor-name pattern that must hold exactly one %d.</summary>
    public string Pattern(JsonNode? parent, string path)
    {
        var value = String(parent, path);
        var first = value.IndexOf("%d", StringComparison.Ordinal);
        return first >= 0 && value.IndexOf("%d", first + 2, StringComparison.Ordinal) < 0
            ? value
            : throw Error(path, $"must hold exactly one %d (the layer index), got '{value}'");
    }

    public int Int(JsonNode? parent, string path, int min) =>
        OptionalInt(parent, path) is { } v
            ? v >= min ? v : throw Error(path, $"must be at least {min}, got {v}")
            : throw new ModelConfigException($"{file}: missing required field '{path}'.");

    public int? OptionalInt(JsonNode? parent, string path)
    {
        var node = Child(parent, path);
        if (node is null)
        {
            return null;
        }

        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<int>(out var i) ? i
            : node is JsonValue d && d.GetValueKind() == JsonValueKind.Number && d.TryGetValue<double>(out var x) && x == Math.Floor(x) && Math.Abs(x) < int.MaxValue ? (int)x
            : throw Error(path, "must be an integer");
    }

    public double? OptionalDouble(JsonNode? parent, string path)
    {
        var node = Child(parent, path);
        if (node is null)
        {
            return null;
        }

        return node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? v.GetValue<double>() : throw Error(path, "must be a number");
    }

    public bool? OptionalBool(JsonNode? parent, string path)
    {
        var node = Child(parent, path);
        if (node is null)
        {
            return null;
        }

        return node is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : throw Error(path, "must be true or false");
    }

    /// <summary>
    /// One provider's entry in ORT GenAI's <c>session_options.provider_options</c>, an array of
    /// <c>{"provider": {"key": "value", ...}}</c> objects; null when the provider is not listed. Entries
    /// for other providers, and keys beside them (a <c>device</c> field, say), are not ours to judge and are skipped.
    /// </summary>
    public IReadOnlyDictionary<string, string>? ProviderOptions(JsonObject? sessionOptions, string path, string provider)
    {
        if (sessionOptions?["provider_options"] is not JsonArray entries)
        {
            return null;
        }

        for (var i = 0; i < entries.Count; i++)
        {
            if (entries[i] is not JsonObject entry)
            {
                continue;
            }

            foreach (var (name, node) in entry)
            {
                if (!name.Equals(provider, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                var field = $"{path}.provider_options[{i}].{name}";
                if (node is not JsonObject settings)
                {
                    throw Error(field, "must be an object of option names to values");
                }

                var options = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var (key, value) in settings)
                {
                    options[key] = value is JsonValue v && v.GetValueKind() is JsonValueKind.String ? v.GetValue<string>()
                        : value is JsonValue n && n.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False ? n.ToJsonString()
                        : throw Error($"{field}.{key}", "must be a string, number or boolean");
                }

                return options;
            }
        }

        return null;
    }

    private ModelConfigException Error(string path, string what) => new($"{file}: field '{path}' {what}.");

    private static JsonNode? Child(JsonNode? parent, string path)
    {
        var name = path[(path.LastIndexOf('.') + 1)..];
        var bracket = name.IndexOf('[');
        if (bracket >= 0 && parent is JsonArray array)
        {
            return array[int.Parse(name[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture)];
        }

        return parent is JsonObject o && o.TryGetPropertyValue(name, out var child) && child is not null ? child : null;
    }
}
