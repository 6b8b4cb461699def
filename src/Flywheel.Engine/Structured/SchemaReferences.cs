using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// The one rule that keeps a schema from making the server open a connection or a file: every
/// <c>$ref</c> in the document, used or not, must point inside it (<c>#</c> or a JSON pointer
/// <c>#/...</c>). Both the grammar compiler and the validator call <see cref="EnsureLocal"/> before
/// they resolve anything, so a reference to http, https, file, a relative path or an anchor is a
/// <see cref="SchemaCompileException"/> naming <c>$ref</c> and where it is, never a fetch.
/// </summary>
internal static class SchemaReferences
{
    /// <summary>Keywords whose values are maps from names to subschemas (the names are not keywords).</summary>
    private static readonly HashSet<string> SchemaMaps =
        ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas", "dependencies"];

    /// <summary>Keywords whose values are instances, not schemas: a "$ref" member inside them is data.</summary>
    private static readonly HashSet<string> DataKeywords = ["enum", "const", "default", "examples"];

    /// <summary>Throws <see cref="SchemaCompileException"/> for the first <c>$ref</c> that could leave the document.</summary>
    public static void EnsureLocal(JsonElement root)
    {
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
                    Check(member.Value.GetString()!, pointer);
                }
                else if (!DataKeywords.Contains(member.Name))
                {
                    // Unknown keywords are walked as schemas too: a validator may read them as such.
                    pending.Push((member.Value, at, SchemaMaps.Contains(member.Name) && member.Value.ValueKind == JsonValueKind.Object));
                }
            }
        }
    }

    private static void Check(string reference, string pointer)
    {
        if (reference != "#" && !reference.StartsWith("#/", StringComparison.Ordinal))
        {
            throw new SchemaCompileException("$ref", pointer,
                $"only references inside the document (\"#\" or \"#/...\") are allowed, not '{reference}': schemas are never fetched from a network or a file");
        }
    }
}
