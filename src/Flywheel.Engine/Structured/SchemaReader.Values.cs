using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>Reading keyword values: types, counts, numbers.</summary>
internal sealed partial class SchemaReader
{
    internal static NumberAutomata.Bound? Tighter(NumberAutomata.Bound? a, NumberAutomata.Bound? b, bool lower)
    {
        if (a is not { } x)
        {
            return b;
        }

        if (b is not { } y)
        {
            return a;
        }

        var c = JsonDecimal.Compare(x.Value, y.Value);
        if (c == 0)
        {
            return x.Exclusive ? x : y;
        }

        return (c > 0) == lower ? x : y;
    }

    /// <summary>
    /// dependentRequired (member lists), dependentSchemas (schemas), or draft-07 dependencies (either):
    /// one union per member, "absent or present with what it needs".
    /// </summary>
    private IEnumerable<SchemaNode> ReadDependencies(JsonElement v, string keyword, string at)
    {
        Expect(v, JsonValueKind.Object, keyword, at);
        var result = new List<SchemaNode>();
        foreach (var dependency in v.EnumerateObject())
        {
            var where = at + "/" + Escape(dependency.Name);
            SchemaNode then;
            if (dependency.Value.ValueKind == JsonValueKind.Array && keyword != "dependentSchemas")
            {
                then = new SchemaNode
                {
                    Pointer = where,
                    Types = JsonTypes.Object,
                    Required = [.. dependency.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
                        ? e.GetString()! : throw new SchemaCompileException(keyword, at, "entries must be strings"))],
                };
            }
            else if (keyword != "dependentRequired")
            {
                then = Read(dependency.Value, where);
            }
            else
            {
                throw new SchemaCompileException(keyword, at, "values must be arrays of property names");
            }

            result.Add(Merger.Dependent(dependency.Name, then, where));
        }

        return result;
    }

    /// <summary>
    /// unevaluatedProperties where the evaluated properties are known statically (<see cref="UnevaluatedScope"/>):
    /// they are the merged node's declared and pattern properties, so the keyword is its additionalProperties. The
    /// scope has checked that the node's anyOf branches (anyOf, oneOf, if/then/else, dependentSchemas) evaluate no
    /// property, so that additionalProperties holds in every branch.
    /// </summary>
    private SchemaNode Unevaluated(SchemaNode merged, JsonElement schema, string pointer, SchemaNode unevaluated)
    {
        var scope = UnevaluatedScope.Of(_root, schema, pointer, _anchors);
        if (scope.All)
        {
            return merged;
        }

        return Close(Body(merged, "unevaluatedProperties", pointer), scope, unevaluated, pointer);
    }

    /// <summary>The node a merged node's chain of references leads to.</summary>
    private SchemaNode Body(SchemaNode merged, string keyword, string pointer)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (merged.Ref is { } target && seen.Add(target))
        {
            merged = Resolve(target, pointer, requireBody: true)!;
        }

        return merged.Ref is null ? merged
            : throw new SchemaCompileException(keyword, pointer, "only supported when what it applies beside is known from the schema");
    }

    /// <summary>
    /// unevaluatedItems where the evaluated items are known statically (<see cref="UnevaluatedScope.OfItems"/>): the
    /// first <see cref="UnevaluatedScope.Prefix"/> are, so the keyword is the merged node's items (and its branches').
    /// </summary>
    private SchemaNode UnevaluatedItems(SchemaNode merged, JsonElement schema, string pointer, SchemaNode unevaluated)
    {
        var scope = UnevaluatedScope.OfItems(_root, schema, pointer, _anchors);
        return scope.All ? merged : CloseItems(Body(merged, "unevaluatedItems", pointer), scope.Prefix, unevaluated, pointer);
    }

    /// <summary>
    /// <paramref name="node"/> and its anyOf branches with every item past the first <paramref name="prefix"/> held to
    /// <paramref name="unevaluated"/> as well: the rest of the prefix and items (which the node has only from an
    /// applicator that evaluates nothing, such as a negation, merged in) take it on too.
    /// </summary>
    private SchemaNode CloseItems(SchemaNode node, int prefix, SchemaNode unevaluated, string pointer)
    {
        if (node.IsFalse)
        {
            return node;
        }

        // A node whose own prefix is shorter (a branch) leaves the evaluated positions to the items it has.
        var positions = node.PrefixItems.Concat(Enumerable.Repeat(node.Items ?? SchemaNode.True(pointer), Math.Max(0, prefix - node.PrefixItems.Count)));
        var result = node.ShallowCopy();
        result.PrefixItems = [.. positions.Select((p, i) => i < prefix ? p : Merger.Merge(p, unevaluated, pointer))];
        result.Items = node.Items is null ? unevaluated : Merger.Merge(node.Items, unevaluated, pointer);
        if (node.AnyOf is { } branches)
        {
            result.AnyOf = [.. branches.Select(b => CloseItems(b, prefix, unevaluated, pointer))];
        }

        return result;
    }

    /// <summary>
    /// <paramref name="node"/> and its anyOf branches with the unevaluated schema as their additionalProperties. Members
    /// they declare that no evaluating subschema names (an applicator that evaluates nothing, such as a double negation
    /// or a dependent schema, merged in) are unevaluated all the same, so their schemas take it on too.
    /// </summary>
    private SchemaNode Close(SchemaNode node, UnevaluatedScope scope, SchemaNode unevaluated, string pointer)
    {
        if (node.IsFalse || node.AdditionalProperties is not null)
        {
            return node;
        }

        var unnamed = node.Properties.Where(p => !scope.Names.Contains(p.Key)).ToList();
        if (node.PatternProperties.Any(p => !scope.Patterns.Contains(p.Key)) || (unnamed.Count > 0 && scope.Patterns.Count > 0))
        {
            throw new SchemaCompileException("unevaluatedProperties", pointer, "only supported when the evaluated properties are known from the schema");
        }

        var result = node.ShallowCopy();
        result.Properties = [.. node.Properties.Select(p => scope.Names.Contains(p.Key) ? p : new(p.Key, Merger.Merge(p.Value, unevaluated, pointer)))];
        result.AdditionalProperties = unevaluated;
        if (node.AnyOf is { } branches)
        {
            result.AnyOf = [.. branches.Select(b => Close(b, scope, unevaluated, pointer))];
        }

        return result;
    }

    private static JsonTypes ReadTypes(JsonElement v, string pointer)
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            return TypeOf(v.GetString()!, pointer);
        }

        Expect(v, JsonValueKind.Array, "type", pointer);
        return v.EnumerateArray().Aggregate(JsonTypes.None, (acc, e) => acc | (e.ValueKind == JsonValueKind.String
            ? TypeOf(e.GetString()!, pointer)
            : throw new SchemaCompileException("type", pointer, "entries must be type names (draft-03 schemas inside \"type\" are not supported)")));
    }

    private static JsonTypes TypeOf(string name, string pointer) => name switch
    {
        "null" => JsonTypes.Null,
        "boolean" => JsonTypes.Boolean,
        "integer" => JsonTypes.Integer,
        "number" => JsonTypes.Number | JsonTypes.Integer,
        "string" => JsonTypes.String,
        "array" => JsonTypes.Array,
        "object" => JsonTypes.Object,
        _ => throw new SchemaCompileException("type", pointer, $"unknown type \"{name}\""),
    };

    private static int ReadCount(JsonElement v, string keyword, string pointer)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDecimal(out var d) || d < 0 || d != Math.Floor(d) || d > int.MaxValue)
        {
            throw new SchemaCompileException(keyword, pointer, "must be a non-negative integer");
        }

        return (int)d;
    }

    private static JsonDecimal ReadNumber(JsonElement v, string k, string pointer)
    {
        Expect(v, JsonValueKind.Number, k, pointer);
        return JsonDecimal.Parse(v.GetRawText(), k, pointer);
    }

    private static void Expect(JsonElement v, JsonValueKind kind, string keyword, string pointer)
    {
        if (v.ValueKind != kind)
        {
            throw new SchemaCompileException(keyword, pointer, $"must be a JSON {kind.ToString().ToLowerInvariant()}");
        }
    }

    internal static string Escape(string name) => name.Replace("~", "~0").Replace("/", "~1");
}
