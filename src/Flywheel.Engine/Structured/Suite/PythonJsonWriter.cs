using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// Writes a JSON value the way Python's <c>json.dumps(value, ensure_ascii=False)</c> does: separators
/// <c>", "</c> and <c>": "</c>, keys in document order, short escapes for <c>"</c> <c>\</c> and
/// \b \f \n \r \t, \u00XX for other control characters, non-ASCII kept as is. Numbers follow
/// Python's reading: without a fraction or exponent they are integers (printed exactly, any size),
/// otherwise floats printed like <c>repr</c> (<c>1.0</c>, <c>1e-05</c>, <c>1e+16</c>, <c>Infinity</c>).
/// This is the text a model trained on Python-serialised JSON tends to produce.
/// </summary>
internal static class PythonJsonWriter
{
    public static string Write(JsonElement value)
    {
        var sb = new StringBuilder();
        Write(value, sb);
        return sb.ToString();
    }

    private static void Write(JsonElement value, StringBuilder sb)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                var firstProperty = true;
                foreach (var property in value.EnumerateObject())
                {
                    sb.Append(firstProperty ? "" : ", ");
                    firstProperty = false;
                    CanonicalJson.WriteString(property.Name, sb); // json.dumps escapes exactly these with ensure_ascii off
                    sb.Append(": ");
                    Write(property.Value, sb);
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var firstItem = true;
                foreach (var item in value.EnumerateArray())
                {
                    sb.Append(firstItem ? "" : ", ");
                    firstItem = false;
                    Write(item, sb);
                }

                sb.Append(']');
                break;
            case JsonValueKind.String:
                CanonicalJson.WriteString(value.GetString()!, sb);
                break;
            case JsonValueKind.Number:
                sb.Append(Number(value.GetRawText()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    /// <summary>A JSON number's text as Python prints the int or float it reads it as.</summary>
    internal static string Number(string raw)
    {
        if (raw.IndexOfAny(['.', 'e', 'E']) < 0)
        {
            return raw == "-0" ? "0" : raw; // JSON forbids leading zeros, so the text is already canonical
        }

        var d = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        if (!double.IsFinite(d))
        {
            return d > 0 ? "Infinity" : "-Infinity";
        }

        // Shortest round-trip digits and the decimal point's position: value = 0.DIGITS * 10^point.
        var text = Math.Abs(d).ToString("R", CultureInfo.InvariantCulture);
        var exponent = 0;
        var e = text.IndexOf('E');
        if (e >= 0)
        {
            exponent = int.Parse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }

        var dot = text.IndexOf('.');
        var digits = dot < 0 ? text : text.Remove(dot, 1);
        var point = (dot < 0 ? text.Length : dot) + exponent;
        var lead = digits.Length - digits.TrimStart('0').Length;
        digits = digits[lead..].TrimEnd('0');
        point -= lead;
        var sign = double.IsNegative(d) ? "-" : "";
        if (digits.Length == 0)
        {
            return sign + "0.0";
        }

        // Python's float repr: positional when -4 < point <= 16, else d.ddde±XX.
        if (point > 16 || point <= -4)
        {
            var mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            var exp = point - 1;
            return $"{sign}{mantissa}e{(exp < 0 ? '-' : '+')}{Math.Abs(exp):00}";
        }

        if (point <= 0)
        {
            return $"{sign}0.{new string('0', -point)}{digits}";
        }

        return digits.Length <= point
            ? $"{sign}{digits}{new string('0', point - digits.Length)}.0"
            : $"{sign}{digits[..point]}.{digits[point..]}";
    }
}
