using System.Text.Json;

namespace Flywheel.LoadGen.Workload;

/// <summary>
/// Reads the fields of one JSON object, remembering which were read so that leftovers can be
/// reported as unknown. Errors name the full field path (prefix + name).
/// </summary>
internal sealed class JsonFieldReader(JsonElement obj, string prefix)
{
    private readonly HashSet<string> _seen = [];

    public JsonElement Required(string name) =>
        TryGet(name, out var value) ? value : throw Error(name, "is required");

    public string? OptionalString(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Error(name, "must be a string");
    }

    public bool? OptionalBool(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error(name, "must be true or false"),
        };
    }

    public double? OptionalNumber(string name, double min, double max)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var number) || number < min || number > max)
        {
            throw Error(name, $"must be a number in [{min}, {max}]");
        }
        return number;
    }

    public double RequiredNumber(string name, double min, double max)
    {
        Required(name);
        return OptionalNumber(name, min, max)!.Value;
    }

    public int? OptionalLength(string name) =>
        TryGet(name, out var value) ? new JsonFieldReader(value, prefix + name).AsLength() : null;

    public int RequiredLength(string name) => new JsonFieldReader(Required(name), prefix + name).AsLength();

    /// <summary>This element as a token count: an integer in [1, 10^7].</summary>
    public int AsLength()
    {
        if (obj.ValueKind != JsonValueKind.Number || !obj.TryGetInt32(out var n) || n < 1 || n > 10_000_000)
        {
            throw new ScenarioFormatException($"field '{prefix}' must be an integer token count in [1, 10000000]");
        }
        return n;
    }

    public string? OptionalObjectText(string name)
    {
        if (!TryGet(name, out var value))
        {
            return null;
        }
        return value.ValueKind == JsonValueKind.Object ? value.GetRawText() : throw Error(name, "must be a JSON object (a JSON Schema)");
    }

    public void RejectUnknown()
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (!_seen.Contains(property.Name))
            {
                throw new ScenarioFormatException($"unknown field '{prefix}{property.Name}'");
            }
        }
    }

    private bool TryGet(string name, out JsonElement value)
    {
        _seen.Add(name);
        return obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;
    }

    private ScenarioFormatException Error(string name, string problem) => new($"field '{prefix}{name}' {problem}");
}
