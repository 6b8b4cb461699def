using System.Text;
using System.Text.Json;

namespace Flywheel.Serving.Tools;

/// <summary>A finished answer split into its text content and the calls it made.</summary>
/// <param name="Content">The text outside the calls, before, between and after them (trimmed; empty when there is none).</param>
/// <param name="Calls">The calls, in order: function name and arguments as JSON text.</param>
public sealed record ParsedAnswer(string Content, IReadOnlyList<(string Name, string Arguments)> Calls);

/// <summary>
/// Reads the calls out of an answer written in a family's format (<see cref="ToolCallFormat"/>). An answer whose
/// calls do not all parse is text: a call is only returned when every call in the answer could be read.
/// Stateless and thread-safe.
/// </summary>
public static class ToolCallParser
{
    /// <summary>Where Hermes-style calls open and close.</summary>
    public const string OpenTag = "<tool_call>";

    /// <summary>The closing tag of a Hermes-style call.</summary>
    public const string CloseTag = "</tool_call>";

    /// <summary>The token Llama 3.1 may put before a JSON call.</summary>
    public const string PythonTag = "<|python_tag|>";

    /// <summary>Splits <paramref name="text"/> into content and calls; calls are empty when it made none (or made them unreadably).</summary>
    public static ParsedAnswer Parse(string text, ToolCallFormat format)
    {
        ArgumentNullException.ThrowIfNull(text);
        var calls = format == ToolCallFormat.HermesTags ? ParseHermes(text, out var content) : ParseLlama(text, out content);
        return calls is null ? new ParsedAnswer(text, []) : new ParsedAnswer(content, calls);
    }

    /// <summary>
    /// Whether <paramref name="text"/> begins a call in <paramref name="format"/>: it holds the opening tag (Hermes), or
    /// its first non-whitespace output is <c>{</c> or the python tag (Llama-3). Such an answer is meant as calls, so one
    /// that does not parse is a broken call, not text.
    /// </summary>
    public static bool StartsCall(string text, ToolCallFormat format)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (format == ToolCallFormat.HermesTags)
        {
            return text.Contains(OpenTag, StringComparison.Ordinal);
        }

        var body = text.TrimStart();
        return body.StartsWith('{') || body.StartsWith(PythonTag, StringComparison.Ordinal);
    }

    /// <summary>Each <c>&lt;tool_call&gt;…&lt;/tool_call&gt;</c> (the last may lack its closing tag when the answer ended there).</summary>
    private static List<(string, string)>? ParseHermes(string text, out string content)
    {
        content = text;
        var start = text.IndexOf(OpenTag, StringComparison.Ordinal);
        if (start < 0)
        {
            return null;
        }

        var calls = new List<(string, string)>();
        var rest = new StringBuilder(text[..start]);
        var at = start;
        while (at >= 0 && at < text.Length)
        {
            var bodyStart = at + OpenTag.Length;
            var end = text.IndexOf(CloseTag, bodyStart, StringComparison.Ordinal);
            var body = end < 0 ? text[bodyStart..] : text[bodyStart..end];
            if (ReadCall(body.Trim()) is not { } call)
            {
                return null;
            }

            calls.Add(call);
            if (end < 0)
            {
                break;
            }

            // Text between or after calls is content as written; a gap of only whitespace is the calls' layout.
            var next = text.IndexOf(OpenTag, end + CloseTag.Length, StringComparison.Ordinal);
            var between = next < 0 ? text[(end + CloseTag.Length)..] : text[(end + CloseTag.Length)..next];
            if (!string.IsNullOrWhiteSpace(between))
            {
                rest.Append(between);
            }

            at = next;
        }

        content = rest.ToString().Trim();
        return calls;
    }

    /// <summary>The whole answer as JSON calls, one or more separated by ';' (optionally after the python tag).</summary>
    private static List<(string, string)>? ParseLlama(string text, out string content)
    {
        content = text;
        var body = text.Trim();
        if (body.StartsWith(PythonTag, StringComparison.Ordinal))
        {
            body = body[PythonTag.Length..].TrimStart();
        }

        if (!body.StartsWith('{'))
        {
            return null;
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        var calls = new List<(string, string)>();
        var offset = 0;
        while (offset < bytes.Length)
        {
            var reader = new Utf8JsonReader(bytes.AsSpan(offset), new JsonReaderOptions { AllowMultipleValues = true });
            try
            {
                using var doc = JsonDocument.ParseValue(ref reader);
                if (ToolCallSchema.CallOf(doc.RootElement) is not { } call)
                {
                    return null;
                }

                calls.Add(call);
            }
            catch (JsonException)
            {
                return null;
            }

            offset += (int)reader.BytesConsumed;
            while (offset < bytes.Length && (bytes[offset] is (byte)';' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'))
            {
                offset++;
            }
        }

        content = "";
        return calls;
    }

    private static (string, string)? ReadCall(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return ToolCallSchema.CallOf(doc.RootElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
