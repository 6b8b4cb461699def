using System.Runtime.CompilerServices;
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
/// never adds to it: a negation keeps no annotations. For <c>unevaluatedItems</c> (<see cref="OfItems"/>) the
/// same walk finds how many leading items are evaluated (the longest <c>prefixItems</c>, or draft-07 array
/// <c>items</c>), or all of them (a schema <c>items</c>, <c>additionalItems</c> beside array items, a nested
/// <c>unevaluatedItems</c>); <c>contains</c>, whose annotations depend on the instance, is refused there.
/// </summary>
internal sealed class UnevaluatedScope
{
    private static readonly string[] InstanceDependent = ["anyOf", "oneOf", "if", "then", "else", "dependentSchemas", "dependencies"];

    public HashSet<string> Names { get; } = new(StringComparer.Ordinal);

    public List<string> Patterns { get; } = [];

    /// <summary>True when every property (or item) is evaluated before the keyword (it then asserts nothing).</summary>
    public bool All { get; private set; }

    /// <summary>unevaluatedItems: how many leading items are evaluated (the rest must satisfy it).</summary>
    public int Prefix { get; private set; }

    private bool _items;

    private string Keyword => _items ? "unevaluatedItems" : "unevaluatedProperties";

    /// <summary>The items an unevaluatedItems in <paramref name="schema"/> treats as evaluated (see the type's summary).</summary>
    public static UnevaluatedScope OfItems(JsonElement root, JsonElement schema, string pointer, SchemaAnchors anchors) =>
        Walk(root, schema, pointer, anchors, new UnevaluatedScope { _items = true });

    /// <summary>Walks <paramref name="schema"/> (at <paramref name="pointer"/>) and what it applies in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static UnevaluatedScope Of(JsonElement root, JsonElement schema, string pointer, SchemaAnchors anchors) =>
        Walk(root, schema, pointer, anchors, new UnevaluatedScope());

    private static UnevaluatedScope Walk(JsonElement root, JsonElement schema, string pointer, SchemaAnchors anchors, UnevaluatedScope scope)
    {
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
                    case var k when InstanceDependent.Contains(k) && !Subschemas(k, v).All(sub => scope.EvaluatesNone(root, sub, anchors)):
                        throw new SchemaCompileException(scope.Keyword, pointer,
                            $"only supported when the evaluated {(scope._items ? "items" : "properties")} are known from the schema; '{k}' at '{item.Pointer}' makes them depend on the instance");
                    case "contains" when scope._items:
                        throw new SchemaCompileException("unevaluatedItems", pointer, $"only supported when the evaluated items are known from the schema; 'contains' at '{item.Pointer}' makes them depend on the instance");
                    case "prefixItems" or "items" when scope._items && v.ValueKind == JsonValueKind.Array:
                        scope.Prefix = Math.Max(scope.Prefix, v.GetArrayLength());
                        scope.All |= member.Name == "items" && item.Schema.TryGetProperty("additionalItems", out _);
                        break;
                    case "items" when scope._items:
                        scope.All = true;
                        break;
                    case "unevaluatedItems" when scope._items && item.Nested:
                        scope.All = true;
                        break;
                    case "properties" when !scope._items && v.ValueKind == JsonValueKind.Object:
                        scope.Names.UnionWith(v.EnumerateObject().Select(p => p.Name));
                        break;
                    case "patternProperties" when !scope._items && v.ValueKind == JsonValueKind.Object:
                        scope.Patterns.AddRange(v.EnumerateObject().Select(p => p.Name));
                        break;
                    case "additionalProperties" when !scope._items:
                        scope.All = true;
                        break;
                    case "unevaluatedProperties" when !scope._items && item.Nested:
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
                            pending.Push((scope.Follow(root, target, pointer), target, true));
                        }

                        break;
                }
            }
        }

        return scope;
    }

    /// <summary>The subschemas an in-place applicator applies (none for a dependencies entry that lists names, or for any other keyword).</summary>
    private static IEnumerable<JsonElement> Subschemas(string keyword, JsonElement value) => keyword switch
    {
        "anyOf" or "oneOf" or "allOf" when value.ValueKind == JsonValueKind.Array => value.EnumerateArray(),
        "dependentSchemas" or "dependencies" when value.ValueKind == JsonValueKind.Object =>
            value.EnumerateObject().Select(d => d.Value).Where(d => d.ValueKind != JsonValueKind.Array),
        "if" or "then" or "else" => [value],
        _ => [],
    };

    /// <summary>
    /// True when <paramref name="schema"/> evaluates no property of the object it applies to (for unevaluatedItems,
    /// no item of the array), for any instance: it has none of the keywords that evaluate
    /// them, and neither does anything it applies in place (<c>not</c> aside, which keeps no annotations). Keywords
    /// it cannot follow count as evaluating.
    /// </summary>
    private bool EvaluatesNone(JsonElement root, JsonElement schema, SchemaAnchors anchors)
    {
        // A worklist, not recursion: a chain of references can be as long as the document.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<JsonElement>();
        pending.Push(schema);
        while (pending.TryPop(out var current))
        {
            if (current.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var member in current.EnumerateObject())
            {
                var v = member.Value;
                switch (member.Name)
                {
                    case "properties" or "patternProperties" when !_items:
                        if (v.ValueKind != JsonValueKind.Object || v.EnumerateObject().Any())
                        {
                            return false;
                        }

                        break;
                    case "additionalProperties" or "unevaluatedProperties" when !_items:
                    case "prefixItems" or "items" or "additionalItems" or "unevaluatedItems" or "contains" when _items:
                    case "$dynamicRef" or "$recursiveRef":
                        return false;
                    case "$ref":
                        if (v.ValueKind != JsonValueKind.String)
                        {
                            return false;
                        }

                        var target = anchors.ToPointer(v.GetString()!);
                        if (seen.Add(target))
                        {
                            pending.Push(Follow(root, target, target));
                        }

                        break;
                    default:
                        // What an in-place applicator applies (nothing, for any other keyword).
                        foreach (var sub in Subschemas(member.Name, v))
                        {
                            pending.Push(sub);
                        }

                        break;
                }
            }
        }

        return true;
    }

    /// <summary>References one walk may follow (the main walk and its checks of applicators together).</summary>
    public const int MaxReferences = NestingGuard.MaxDepth;

    private int _references;

    /// <summary>
    /// The subschema <paramref name="pointer"/> names, counted: finding one reads the document from its root, so a
    /// walk that followed every link of a document-long chain of references would take time quadratic in its size.
    /// </summary>
    private JsonElement Follow(JsonElement root, string pointer, string from)
    {
        if (++_references > MaxReferences)
        {
            throw new SchemaCompileException(Keyword, from, $"working out what it leaves would follow more than {MaxReferences} references");
        }

        return Locate(root, pointer, from);
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
