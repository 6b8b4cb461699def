using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// The one rule that keeps a schema from making the server open a connection or a file: every
/// <c>$ref</c> in the document, used or not, must point inside it (<c>#</c>, a JSON pointer
/// <c>#/...</c>, or <c>#name</c> naming a plain-name anchor the document defines with <c>$anchor</c>
/// or a draft-06/07 <c>$id: "#name"</c>). Both the grammar compiler and the validator call
/// <see cref="EnsureLocal"/> before they resolve anything, so a reference to http, https, file, a
/// relative path or an unknown anchor is a <see cref="SchemaCompileException"/> naming <c>$ref</c>
/// and where it is, never a fetch.
/// </summary>
internal static class SchemaReferences
{
    /// <summary>Keywords whose values are maps from names to subschemas (the names are not keywords).</summary>
    private static readonly HashSet<string> SchemaMaps =
        ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"];

    /// <summary>Keywords whose values are instances, not schemas: a "$ref" member inside them is data.</summary>
    private static readonly HashSet<string> DataKeywords = ["enum", "const", "default", "examples"];

    /// <summary>
    /// Throws <see cref="SchemaCompileException"/> for the first <c>$ref</c> that could leave the
    /// document; returns the document's plain-name anchors, which the references may use.
    /// </summary>
    public static SchemaAnchors EnsureLocal(JsonElement root)
    {
        var anchors = new Dictionary<string, string>(StringComparer.Ordinal);
        var references = new List<(string Reference, string Pointer)>();
        // An explicit stack: the document's depth is the client's to choose.
        var pending = new Stack<(JsonElement Node, string Pointer, bool IsMap)>();
        pending.Push((root, "#", false));
        while (pending.TryPop(out var item))
        {
            var (node, pointer, isMap) = item;
            if (node.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var element in node.EnumerateArray())
                {
                    pending.Push((element, $"{pointer}/{i++}", false));
                }

                continue;
            }

            if (node.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var member in node.EnumerateObject())
            {
                var at = pointer + "/" + SchemaReader.Escape(member.Name);
                if (isMap)
                {
                    pending.Push((member.Value, at, false));
                }
                else if (member.Name == "$ref" && member.Value.ValueKind == JsonValueKind.String)
                {
                    references.Add((member.Value.GetString()!, pointer));
                }
                else if (AnchorName(member) is { } name)
                {
                    if (!anchors.TryAdd(name, pointer))
                    {
                        throw new SchemaCompileException(member.Name, pointer, $"the anchor \"{name}\" is defined twice");
                    }
                }
                else if (!DataKeywords.Contains(member.Name))
                {
                    // Unknown keywords are walked as schemas too: a validator may read them as such.
                    pending.Push((member.Value, at, SchemaMaps.Contains(member.Name) && member.Value.ValueKind == JsonValueKind.Object));
                }
            }
        }

        foreach (var (reference, pointer) in references)
        {
            Check(reference, pointer, anchors);
        }

        return new SchemaAnchors(anchors);
    }

    // $anchor: "name", or draft-06/07's $id: "#name".
    private static string? AnchorName(JsonProperty member) =>
        member.Value.ValueKind != JsonValueKind.String ? null
        : member.Name == "$anchor" ? member.Value.GetString()
        : member.Name == "$id" && member.Value.GetString() is ['#', _, ..] fragment && !fragment.Contains('/') ? fragment[1..]
        : null;

    private static void Check(string reference, string pointer, Dictionary<string, string> anchors)
    {
        if (reference != "#" && !reference.StartsWith("#/", StringComparison.Ordinal) && !(reference.StartsWith('#') && anchors.ContainsKey(reference[1..])))
        {
            throw new SchemaCompileException("$ref", pointer,
                $"only references inside the document (\"#\" or \"#/...\") are allowed, not '{reference}': schemas are never fetched from a network or a file");
        }
    }
}

/// <summary>A document's plain-name anchors: name to the JSON pointer of the schema that defines it.</summary>
internal sealed class SchemaAnchors(Dictionary<string, string> pointers)
{
    /// <summary>A document without anchors.</summary>
    public static readonly SchemaAnchors None = new([]);

    /// <summary>The reference as a JSON pointer: <c>#name</c> becomes its anchor's pointer; others are returned as they are.</summary>
    public string ToPointer(string reference) =>
        reference.Length > 1 && reference[0] == '#' && reference[1] != '/' && pointers.TryGetValue(reference[1..], out var pointer) ? pointer : reference;
}
