using System.Text.Json;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Reads the parameters of one JSON object of a request body (the body itself, or a nested one such as
/// <c>messages[2]</c>): typed, range-checked access to its properties. Remembers which properties were
/// read so <see cref="EnsureNoUnknown"/> can name the ones nobody asked for. Errors name the
/// parameter with its path (e.g. <c>messages[2].role</c>).
/// </summary>
internal sealed class RequestParameterReader
{
    private readonly JsonElement _element;
    private readonly string _prefix;
    private readonly HashSet<string> _seen = new(StringComparer.Ordinal);

    public RequestParameterReader(JsonElement element, string prefix = "")
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw OpenAiError.BadRequest(prefix.Length == 0 ? "The request body must be a JSON object." : $"{prefix[..^1]} must be an object.", prefix.Length == 0 ? null : prefix[..^1]);
        }

        _element = element;
        _prefix = prefix;
    }

    public bool TryGet(string name, out JsonElement value)
    {
        _seen.Add(name);
        return _element.TryGetProperty(name, out value);
    }

    public string RequiredString(string name) =>
        String(name) ?? throw OpenAiError.BadRequest($"'{_prefix}{name}' is required.", _prefix + name);

    public string? String(string name)
    {
        if (!TryGet(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw TypeError(name, "a string");
    }

    public bool? Bool(string name)
    {
        if (!TryGet(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw TypeError(name, "a boolean"),
        };
    }

    public JsonElement? Object(string name)
    {
        if (!TryGet(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.Object ? v : throw TypeError(name, "an object");
    }

    public int? Int(string name, int min, int max)
    {
        var value = Long(name);
        if (value is null)
        {
            return null;
        }

        if (value < min || value > max)
        {
            throw RangeError(name, min, max, value.Value);
        }

        return (int)value.Value;
    }

    public long? Long(string name)
    {
        if (!TryGet(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number)
        {
            throw TypeError(name, "an integer");
        }

        if (v.TryGetInt64(out var l))
        {
            return l;
        }

        // Accept 5.0 as 5, as JSON numbers carry no int/float distinction; refuse 5.5.
        if (v.TryGetDouble(out var d) && Math.Floor(d) == d && Math.Abs(d) < 9.2e18)
        {
            return (long)d;
        }

        throw TypeError(name, "an integer");
    }

    public double? Double(string name, double min, double max, bool minExclusive = false)
    {
        if (!TryGet(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d) || !double.IsFinite(d))
        {
            throw TypeError(name, "a number");
        }

        if (d < min || d > max || (minExclusive && d == min))
        {
            var low = minExclusive ? $"({min}" : $"[{min}";
            throw OpenAiError.BadRequest($"'{_prefix}{name}' must be in {low}, {max}]; got {d}.", _prefix + name);
        }

        return d;
    }

    /// <summary>Throws naming the first property that was never read.</summary>
    public void EnsureNoUnknown()
    {
        foreach (var property in _element.EnumerateObject())
        {
            if (!_seen.Contains(property.Name))
            {
                throw OpenAiError.BadRequest($"Unknown parameter '{_prefix}{property.Name}'.", _prefix + property.Name, "unknown_parameter");
            }
        }
    }

    private OpenAiError TypeError(string name, string expected) =>
        OpenAiError.BadRequest($"'{_prefix}{name}' must be {expected}.", _prefix + name, "invalid_type");

    private OpenAiError RangeError(string name, long min, long max, long value) =>
        OpenAiError.BadRequest($"'{_prefix}{name}' must be in [{min}, {max}]; got {value}.", _prefix + name);
}
