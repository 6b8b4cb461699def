using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// One pass over a parsed request body, before anything reads it, refusing what the JSON parser lets
/// through: strings and property names that are not text (invalid UTF-8 such as a stray <c>0xFF</c> or
/// an overlong <c>C0 80</c>, or an escaped lone surrogate such as <c>"\ud800"</c>), and a property name
/// given twice in one object (the parser keeps both, and which one a reader sees is an accident of
/// lookup order). Errors name the field by its path, e.g. <c>messages[1].content</c>.
/// </summary>
/// <remarks>
/// Recursion is bounded: the document was parsed with a maximum depth (<see cref="RequestBody"/>), so the
/// walk never goes deeper than the parser allowed.
/// </remarks>
internal static class JsonBodyCheck
{
    /// <exception cref="OpenAiError">400 <c>invalid_unicode</c> or <c>duplicate_key</c>, naming the field.</exception>
    public static void Check(JsonElement root) => Visit(root, new PathBuilder());

    private static void Visit(JsonElement element, PathBuilder path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                HashSet<string>? names = null;
                foreach (var property in element.EnumerateObject())
                {
                    if (!TryDecode(() => property.Name, out var name))
                    {
                        path.Push(RawName(property));
                        throw InvalidText(path.ToString(), "property name");
                    }

                    path.Push(name);
                    // Lazily: most objects in a request are small and most bodies hold few of them.
                    if (!(names ??= new HashSet<string>(StringComparer.Ordinal)).Add(name))
                    {
                        var param = path.ToString();
                        throw OpenAiError.BadRequest($"'{param}' is given more than once; each key may appear once per object.", param, "duplicate_key");
                    }

                    Visit(property.Value, path);
                    path.Pop();
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    path.PushIndex(index++);
                    Visit(item, path);
                    path.Pop();
                }

                break;
            case JsonValueKind.String:
                if (!TryDecode(element.GetString, out _))
                {
                    throw InvalidText(path.ToString(), "value");
                }

                break;
        }
    }

    // System.Text.Json validates structure while parsing but transcodes strings only when asked, and then
    // throws InvalidOperationException for bytes that are not UTF-8 and for unpaired surrogates.
    private static bool TryDecode(Func<string?> decode, out string value)
    {
        try
        {
            value = decode() ?? "";
            return true;
        }
        catch (InvalidOperationException)
        {
            value = "";
            return false;
        }
    }

    /// <summary>The name as written (escapes left as they are, bad bytes as U+FFFD), to show the client which key.</summary>
    private static string RawName(JsonProperty property) =>
        Encoding.UTF8.GetString(JsonMarshal.GetRawUtf8PropertyName(property));

    private static OpenAiError InvalidText(string param, string what) =>
        OpenAiError.BadRequest(
            $"The {what} at '{(param.Length == 0 ? "(the body)" : param)}' is not valid Unicode text: it holds bytes that are not UTF-8 or an unpaired UTF-16 surrogate escape.",
            param.Length == 0 ? null : param,
            "invalid_unicode");

    /// <summary>The path to the current node, rendered only when an error needs it.</summary>
    private sealed class PathBuilder
    {
        private readonly List<(string? Name, int Index)> _segments = [];

        public void Push(string name) => _segments.Add((name, 0));

        public void PushIndex(int index) => _segments.Add((null, index));

        public void Pop() => _segments.RemoveAt(_segments.Count - 1);

        public override string ToString()
        {
            var text = new StringBuilder();
            foreach (var (name, index) in _segments)
            {
                if (name is null)
                {
                    text.Append('[').Append(index).Append(']');
                }
                else
                {
                    text.Append(text.Length == 0 ? "" : ".").Append(name);
                }
            }

            return text.ToString();
        }
    }
}
