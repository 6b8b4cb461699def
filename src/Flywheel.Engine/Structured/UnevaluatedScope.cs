using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// The properties an <c>unevaluatedProperties</c> treats as evaluated, when that set is known from the
/// schema alone: the names of <c>properties</c> and the <c>patternProperties</c> patterns of the
/// subschema and of every subschema applied in place with it for sure (<c>allOf</c>, <c>$ref</c>,
/// <c>dependentRequired</c> adds none), or every property when one of them has
/// <c>additionalProperties</c> or an <c>unevaluatedProperties</c> of its own. Applicators whose
/// annotations depend on the instance (<c>anyOf</c>, <c>oneOf</c>, <c>if</c>/<c>then</c>/<c>else</c>,
/// <c>dependentSchemas</c>, schema-valued <c>dependencies</c>) are refused unless none of their subschemas can
/// evaluate a property (e.g. branches that only list <c>required</c>): the grammar compiles this set as the
/// merged node's additionalProperties, which is exact only when it does not depend on the instance. <c>not</c>
/// never adds to it: a negation keeps no annotations.
/// </summary>
internal sealed class UnevaluatedScope
{
    private static readonly string[] InstanceDependent = ["anyOf", "oneOf", "if", "then", "else", "dependentSchemas", "dependencies"];

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
                    case var k when InstanceDependent.Contains(k) && !Subschemas(k, v).All(sub => EvaluatesNone(root, sub, anchors, [])):
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

    /// <summary>The subschemas an in-place applicator applies (none for a dependencies entry that lists names).</summary>
    private static IEnumerable<JsonElement> Subschemas(string keyword, JsonElement value) => keyword switch
    {
        "anyOf" or "oneOf" or "allOf" when value.ValueKind == JsonValueKind.Array => value.EnumerateArray(),
        "dependentSchemas" or "dependencies" when value.ValueKind == JsonValueKind.Object =>
            value.EnumerateObject().Select(d => d.Value).Where(d => d.ValueKind != JsonValueKind.Array),
        "if" or "then" or "else" => [value],
        _ => [],
    };

    private static readonly string[] InPlace = ["allOf", "anyOf", "oneOf", "if", "then", "else", "dependentSchemas", "dependencies"];

    /// <summary>
    /// True when <paramref name="schema"/> evaluates no property of the object it applies to, for any instance: it
    /// names no properties, patterns or additional/unevaluated properties, and neither does anything it applies in
    /// place (<c>not</c> aside, which keeps no annotations). Keywords it cannot follow count as evaluating.
    /// </summary>
    private static bool EvaluatesNone(JsonElement root, JsonElement schema, SchemaAnchors anchors, HashSet<string> seen)
    {
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return true;
        }

        foreach (var member in schema.EnumerateObject())
        {
            var v = member.Value;
            var none = member.Name switch
            {
                "properties" or "patternProperties" => v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any(),
                "additionalProperties" or "unevaluatedProperties" or "$dynamicRef" or "$recursiveRef" => false,
                "$ref" => v.ValueKind == JsonValueKind.String && anchors.ToPointer(v.GetString()!) is var target
                    && (!seen.Add(target) || EvaluatesNone(root, Locate(root, target, target), anchors, seen)),
                var k when InPlace.Contains(k) => Subschemas(k, v).All(sub => EvaluatesNone(root, sub, anchors, seen)),
                _ => true,
            };
            if (!none)
            {
                return false;
            }
        }

        return true;
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
