using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// Conjunction (allOf, sibling keywords) and union (anyOf, oneOf) of <see cref="SchemaNode"/>s.
/// Conjunction is exact: object properties merge per name against the other side's
/// additionalProperties, bounds take the tighter side, patterns and formats accumulate, and unions
/// distribute over conjunctions. oneOf compiles as anyOf only when its branches are provably
/// mutually exclusive (different JSON types, disjoint enum/const values, or a required property
/// whose const/enum values differ), otherwise it is refused: a grammar cannot count matches.
/// </summary>
internal sealed class SchemaMerger(SchemaReader reader)
{
    /// <summary>Most alternatives a distributed allOf-of-anyOf may produce.</summary>
    public const int MaxAlternatives = 256;

    public SchemaNode Union(IReadOnlyList<SchemaNode> branches, string pointer)
    {
        var flat = new List<SchemaNode>();
        foreach (var b in branches)
        {
            if (b.IsTrivial)
            {
                return SchemaNode.True(pointer);
            }

            if (b.AnyOf is { } inner)
            {
                flat.AddRange(inner);
            }
            else if (!b.IsFalse)
            {
                flat.Add(b);
            }
        }

        if (flat.Count > MaxAlternatives)
        {
            throw new SchemaCompileException("anyOf", pointer, $"more than {MaxAlternatives} alternatives after expanding allOf/anyOf");
        }

        return flat.Count switch
        {
            0 => SchemaNode.False(pointer),
            1 => flat[0],
            _ => new SchemaNode { Pointer = pointer, AnyOf = flat },
        };
    }

    public SchemaNode Merge(SchemaNode a, SchemaNode b, string pointer)
    {
        if (a.IsFalse || b.IsTrivial)
        {
            return a;
        }

        if (b.IsFalse || a.IsTrivial)
        {
            return b;
        }

        if (a.Ref is not null)
        {
            return Merge(reader.Resolve(a.Ref, pointer, requireBody: true)!, b, pointer);
        }

        if (b.Ref is not null)
        {
            return Merge(a, reader.Resolve(b.Ref, pointer, requireBody: true)!, pointer);
        }

        if (a.AnyOf is { } aa)
        {
            return Union([.. aa.Select(x => Merge(x, b, pointer))], pointer);
        }

        if (b.AnyOf is { } bb)
        {
            return Union([.. bb.Select(y => Merge(a, y, pointer))], pointer);
        }

        var r = new SchemaNode
        {
            Pointer = a.Pointer,
            Types = a.Types & b.Types,
            Enum = MergeEnum(a.Enum, b.Enum),
            Required = [.. a.Required.Union(b.Required)],
            MinProperties = Math.Max(a.MinProperties, b.MinProperties),
            MaxProperties = Min(a.MaxProperties, b.MaxProperties),
            MinItems = Math.Max(a.MinItems, b.MinItems),
            MaxItems = Min(a.MaxItems, b.MaxItems),
            UniqueItems = a.UniqueItems || b.UniqueItems,
            MinLength = Math.Max(a.MinLength, b.MinLength),
            MaxLength = Min(a.MaxLength, b.MaxLength),
            Patterns = [.. a.Patterns.Concat(b.Patterns).Distinct()],
            Formats = [.. a.Formats.Concat(b.Formats).Distinct()],
            Minimum = SchemaReader.Tighter(a.Minimum, b.Minimum, lower: true),
            Maximum = SchemaReader.Tighter(a.Maximum, b.Maximum, lower: false),
        };
        MergeObject(a, b, r, pointer);
        MergeArray(a, b, r, pointer);
        return r;
    }

    private void MergeObject(SchemaNode a, SchemaNode b, SchemaNode r, string pointer)
    {
        if ((a.PatternProperties.Count > 0 && b.HasObjectConstraints) || (b.PatternProperties.Count > 0 && a.HasObjectConstraints))
        {
            throw new SchemaCompileException("patternProperties", pointer, "patternProperties cannot be merged (allOf) with other object keywords");
        }

        r.PatternProperties = [.. a.PatternProperties.Concat(b.PatternProperties)];
        var names = a.Properties.Select(p => p.Key).Concat(b.Properties.Select(p => p.Key)).Distinct(StringComparer.Ordinal);
        // Looked up by name, not by scanning the list per name: an allOf of many wide objects merges
        // a growing object again and again (200 x 10 properties took seconds when each lookup scanned).
        var (aByName, bByName) = (ByName(a), ByName(b));
        foreach (var name in names)
        {
            r.Properties.Add(new(name, Merge(PropertyOf(a, aByName, name), PropertyOf(b, bByName, name), pointer)));
        }

        r.AdditionalProperties = a.AdditionalProperties is null && b.AdditionalProperties is null
            ? null
            : Merge(a.AdditionalProperties ?? SchemaNode.True(pointer), b.AdditionalProperties ?? SchemaNode.True(pointer), pointer);
    }

    private static SchemaNode PropertyOf(SchemaNode s, string name) =>
        s.Properties.FirstOrDefault(p => p.Key == name).Value ?? s.AdditionalProperties ?? SchemaNode.True(s.Pointer);

    private static SchemaNode PropertyOf(SchemaNode s, Dictionary<string, SchemaNode> byName, string name) =>
        byName.GetValueOrDefault(name) ?? s.AdditionalProperties ?? SchemaNode.True(s.Pointer);

    /// <summary>The first declaration of each property name (as the list scan found it).</summary>
    private static Dictionary<string, SchemaNode> ByName(SchemaNode s)
    {
        var byName = new Dictionary<string, SchemaNode>(s.Properties.Count, StringComparer.Ordinal);
        foreach (var (name, value) in s.Properties)
        {
            byName.TryAdd(name, value);
        }

        return byName;
    }

    private void MergeArray(SchemaNode a, SchemaNode b, SchemaNode r, string pointer)
    {
        var n = Math.Max(a.PrefixItems.Count, b.PrefixItems.Count);
        for (var i = 0; i < n; i++)
        {
            r.PrefixItems.Add(Merge(ItemAt(a, i), ItemAt(b, i), pointer));
        }

        r.Items = a.Items is null && b.Items is null ? null
            : Merge(a.Items ?? SchemaNode.True(pointer), b.Items ?? SchemaNode.True(pointer), pointer);
    }

    private static SchemaNode ItemAt(SchemaNode s, int i) =>
        i < s.PrefixItems.Count ? s.PrefixItems[i] : s.Items ?? SchemaNode.True(s.Pointer);

    private static int? Min(int? x, int? y) => x is null ? y : y is null ? x : Math.Min(x.Value, y.Value);

    private static List<JsonElement>? MergeEnum(List<JsonElement>? a, List<JsonElement>? b)
    {
        if (a is null || b is null)
        {
            return a ?? b;
        }

        var keys = b.Select(e => CanonicalJson.Write(e, sortKeys: true)).ToHashSet(StringComparer.Ordinal);
        return [.. a.Where(e => keys.Contains(CanonicalJson.Write(e, sortKeys: true)))];
    }

    /// <summary>Throws unless every pair of branches provably has no instance in common.</summary>
    public void RequireDisjoint(IReadOnlyList<SchemaNode> branches, string pointer)
    {
        for (var i = 0; i < branches.Count; i++)
        {
            for (var j = i + 1; j < branches.Count; j++)
            {
                if (!Disjoint(branches[i], branches[j], pointer))
                {
                    throw new SchemaCompileException("oneOf", pointer,
                        $"cannot prove branches {i} and {j} are mutually exclusive (give them different types, different const/enum values, " +
                        "or a required property with different const values; or use anyOf if overlap is acceptable)");
                }
            }
        }
    }

    private SchemaNode Expand(SchemaNode s, string pointer) =>
        s.Ref is null ? s : reader.Resolve(s.Ref, pointer, requireBody: false) is { } body ? Expand(body, pointer) : SchemaNode.True(pointer);

    private bool Disjoint(SchemaNode x, SchemaNode y, string pointer)
    {
        x = Expand(x, pointer);
        y = Expand(y, pointer);
        if (x.IsFalse || y.IsFalse)
        {
            return true;
        }

        if (x.AnyOf is { } xs)
        {
            return xs.All(b => Disjoint(b, y, pointer));
        }

        if (y.AnyOf is { } ys)
        {
            return ys.All(b => Disjoint(x, b, pointer));
        }

        var common = TypesOf(x) & TypesOf(y);
        if (common == JsonTypes.None)
        {
            return true;
        }

        if (x.Enum is not null && y.Enum is not null)
        {
            return MergeEnum(x.Enum, y.Enum)!.Count == 0;
        }

        // Discriminator: objects only, with a required property whose allowed values differ.
        return common == JsonTypes.Object && x.Required.Intersect(y.Required).Any(name =>
            Expand(PropertyOf(x, name), pointer) is { Enum: { } ex } && Expand(PropertyOf(y, name), pointer) is { Enum: { } ey }
            && MergeEnum(ex, ey)!.Count == 0);
    }

    private static JsonTypes TypesOf(SchemaNode s) =>
        s.Enum is null ? s.Types : s.Enum.Aggregate(JsonTypes.None, (acc, e) => acc | TypeOfValue(e)) & s.Types;

    public static JsonTypes TypeOfValue(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Null => JsonTypes.Null,
        JsonValueKind.True or JsonValueKind.False => JsonTypes.Boolean,
        JsonValueKind.String => JsonTypes.String,
        JsonValueKind.Array => JsonTypes.Array,
        JsonValueKind.Object => JsonTypes.Object,
        _ => JsonDecimal.Parse(e.GetRawText(), "enum", "#").IsInteger ? JsonTypes.Integer : JsonTypes.Number,
    };
}
