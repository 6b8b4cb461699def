using System.Text;
using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// Compact JSON text of a value: what the grammar emits for enum/const values and what equality
/// of JSON values (JSON Schema's "instance equality") is decided on.
/// </summary>
internal static class CanonicalJson
{
    /// <summary>Compact text; strings escape only what JSON requires; numbers in plain decimal form.</summary>
    /// <param name="value">The JSON value.</param>
    /// <param name="sortKeys">Sort object keys (for equality), or keep their order (for emission).</param>
    public static string Write(JsonElement value, bool sortKeys)
    {
        var sb = new StringBuilder();
        Write(value, sortKeys, sb);
        return sb.ToString();
    }

    private static void Write(JsonElement value, bool sortKeys, StringBuilder sb)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                sb.Append('{');
                var props = value.EnumerateObject().Select(p => (p.Name, p.Value));
                if (sortKeys)
                {
                    props = props.OrderBy(p => p.Name, StringComparer.Ordinal);
                }

                var first = true;
                foreach (var (name, v) in props)
                {
                    sb.Append(first ? "" : ",");
                    first = false;
                    WriteString(name, sb);
                    sb.Append(':');
                    Write(v, sortKeys, sb);
                }

                sb.Append('}');
                break;
            case JsonValueKind.Array:
                sb.Append('[');
                var i = 0;
                foreach (var item in value.EnumerateArray())
                {
                    sb.Append(i++ > 0 ? "," : "");
                    Write(item, sortKeys, sb);
                }

                sb.Append(']');
                break;
            case JsonValueKind.String:
                WriteString(value.GetString()!, sb);
                break;
            case JsonValueKind.Number:
                sb.Append(JsonDecimal.Parse(value.GetRawText(), "enum", "#").ToString());
                break;
            default:
                sb.Append(value.GetRawText());
                break;
        }
    }

    /// <summary>Writes a JSON string literal: escapes '"', '\' and control characters only.</summary>
    public static void WriteString(string s, StringBuilder sb)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append($"\\u{(int)c:x4}");
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    public static string Quote(string s)
    {
        var sb = new StringBuilder();
        WriteString(s, sb);
        return sb.ToString();
    }
}
