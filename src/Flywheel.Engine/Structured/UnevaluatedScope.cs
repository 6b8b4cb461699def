using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// The properties an <c>unevaluatedProperties</c> treats as evaluated, when that set is known from the
/// schema alone: the names of <c>properties</c> and the <c>patternProperties</c> patterns of the
/// subschema and of every subschema applied in place with it for sure (<c>allOf</c>, <c>$ref</c>,
/// <c>dependentRequired</c> adds none), or every property when one of them has
/// <c>additionalProperties</c> or an <c>unevaluatedProperties</c> of its own. Applicators whose
/// annotations depend on the instance (<c>anyOf</c>, <c>oneOf</c>, <c>not</c>, <c>if</c>/<c>then</c>/<c>else</c>,
/// <c>dependentSchemas</c>, schema-valued <c>dependencies</c>) are refused: the grammar compiles this
/// set as the merged node's additionalProperties, which is exact only without them.
/// </summary>
internal sealed class UnevaluatedScope
{
    private static readonly string[] InstanceDependent = ["anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas"];

    public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

    public List<string> Patterns { get; } = [];

    /// <summary>True when every property is evaluated before unevaluatedProperties (it then asserts nothing).</summary>
    public bool All { get; private set; }

    /// <summary>Walks <paramref name="schema"/> (at <paramref name="pointer"/>) and what it applies in place.</summary>
    public static UnevaluatedScope Of(JsonElement root, JsonElement schema, string pointer, SchemaAnchors anchors)
    {
        var scope = new UnevaluatedScope();
        var seen = new HashSet<string>(StringComparer.Ordinal) { pointer };
        var pending = new Stack<(JsonElement Schema, string Pointer, bool Nested)>();
        pending.Push((schema, pointer, false));
        while (pending.TryPop(out var item))
        {
            if (item.Schema.ValueKind != JsonValueKind.Object)
            {
                continue; // true adds nothing; false has no instance to evaluate
            }

            foreach (var member in item.Schema.EnumerateObject())
            {
                var v = member.Value;
                switch (member.Name)
                {
                    case var k when InstanceDependent.Contains(k) || (k == "dependencies" && v.ValueKind == JsonValueKind.Object
                        && v.EnumerateObject().Any(d => d.Value.ValueKind != JsonValueKind.Array)):
                        throw new SchemaCompileException("unevaluatedProperties", pointer,
                            $"only supported when the evaluated properties are known from the schema; '{k}' at '{item.Pointer}' makes them depend on the instance");
                    case "properties" when v.ValueKind == JsonValueKind.Object:
                        scope.Names.UnionWith(v.EnumerateObject().Select(p => p.Name));
                        break;
                    case "patternProperties" when v.ValueKind == JsonValueKind.Object:
                        scope.Patterns.AddRange(v.EnumerateObject().Select(p => p.Name));
                        break;
                    case "additionalProperties":
                        scope.All = true;
                        break;
                    case "unevaluatedProperties" when item.Nested:
                        scope.All = true;
                        break;
                    case "allOf" when v.ValueKind == JsonValueKind.Array:
                        var i = 0;
                        foreach (var part in v.EnumerateArray())
                        {
                            pending.Push((part, $"{item.Pointer}/allOf/{i++}", true));
                        }

                        break;
                    case "$ref" when v.ValueKind == JsonValueKind.String:
                        var target = anchors.ToPointer(v.GetString()!);
                        if (seen.Add(target))
                        {
                            pending.Push((Locate(root, target, pointer), target, true));
                        }

                        break;
                }
            }
        }

        return scope;
    }

    private static JsonElement Locate(JsonElement root, string pointer, string from)
    {
        var current = root;
        foreach (var raw in pointer.Length <= 2 ? [] : Uri.UnescapeDataString(pointer[2..]).Split('/'))
        {
            var part = raw.Replace("~1", "/").Replace("~0", "~");
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(part, out var child))
            {
                current = child;
            }
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(part, out var index) && index >= 0 && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                throw new SchemaCompileException("$ref", from, $"'{pointer}' does not resolve inside the document");
            }
        }

        return current;
    }
}
