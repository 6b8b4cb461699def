using System.Runtime.CompilerServices;
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
internal sealed partial class SchemaMerger(SchemaReader reader)
{
    /// <summary>Most alternatives a distributed allOf-of-anyOf may produce.</summary>
    public const int MaxAlternatives = 256;

    // Operand pairs (a reference by its target, any other node by identity) now being merged
    // through a reference, and being compared by Disjoint.
    private readonly HashSet<(object, object)> _following = new(OperandPairComparer.Instance);
    private readonly HashSet<(object, object)> _comparing = new(OperandPairComparer.Instance);

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
            else if (!b.IsFalse && (b.Types != JsonTypes.None || b.Ref is not null))
            {
                flat.Add(b); // (a node that allows no type is false: an allOf of a type and its complement)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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

        if (a.Ref is not null && a.Ref == b.Ref)
        {
            return a; // a schema joined with itself is itself; unfolding it would recurse for a recursive one
        }

        reader.Guard.Enter("allOf", pointer);
        try
        {
            return a.Ref is null && b.Ref is null ? MergeBodies(a, b, pointer) : MergeFollowing(a, b, pointer);
        }
        finally
        {
            reader.Guard.Exit();
        }
    }

    /// <summary>
    /// Merges after following a reference. Merging is a function of its two operands, so meeting the
    /// same pair again inside its own merge means the merge unfolds forever (two recursive
    /// definitions joined by allOf): that is refused instead of recursing until the stack is gone.
    /// </summary>
    private SchemaNode MergeFollowing(SchemaNode a, SchemaNode b, string pointer)
    {
        var key = (KeyOf(a), KeyOf(b));
        if (!_following.Add(key))
        {
            throw new SchemaCompileException("allOf", pointer,
                $"joining {Describe(a)} with {Describe(b)} recurses without end (recursive $ref definitions combined by allOf or sibling keywords)");
        }

        try
        {
            return a.Ref is not null
                ? Merge(reader.Resolve(a.Ref, pointer, requireBody: true)!, b, pointer)
                : Merge(a, reader.Resolve(b.Ref!, pointer, requireBody: true)!, pointer);
        }
        finally
        {
            _following.Remove(key);
        }
    }

    // A reference stands for its target wherever it appears; any other node is itself.
    private static object KeyOf(SchemaNode s) => s.Ref ?? (object)s;

    private static string Describe(SchemaNode s) => s.Ref is { } target ? $"'{target}'" : $"the schema at '{s.Pointer}'";

    private SchemaNode MergeBodies(SchemaNode a, SchemaNode b, string pointer)
    {
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
            MultipleOf = MergeMultipleOf(a.MultipleOf, b.MultipleOf, pointer),
            NotEnum = a.NotEnum is null || b.NotEnum is null ? a.NotEnum ?? b.NotEnum : [.. a.NotEnum.Concat(b.NotEnum)],
            PropertyNames = a.PropertyNames is null || b.PropertyNames is null
                ? a.PropertyNames ?? b.PropertyNames : Merge(a.PropertyNames, b.PropertyNames, pointer),
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
        if (a.Contains is not null && b.Contains is not null)
        {
            throw new SchemaCompileException("contains", pointer, "two contains keywords joined by allOf cannot be enforced by the grammar");
        }

        (r.Contains, r.MinContains, r.MaxContains) = a.Contains is not null ? (a.Contains, a.MinContains, a.MaxContains) : (b.Contains, b.MinContains, b.MaxContains);
    }

    /// <summary>
    /// A schema every value of member <paramref name="name"/> satisfies: its declaration, else additionalProperties
    /// (only when no pattern could match the name instead), else any value.
    /// </summary>
    private static SchemaNode ValuesOf(SchemaNode s, string name) =>
        s.Properties.FirstOrDefault(p => p.Key == name).Value
        ?? (s.PatternProperties.Count == 0 ? s.AdditionalProperties : null)
        ?? SchemaNode.True(s.Pointer);

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
                        "a required property or a required leading item whose schemas share no value; or use anyOf if overlap is acceptable)");
                }
            }
        }
    }

    // Follows a chain of references to a body (a loop, or one still being read, stands for "any").
    private SchemaNode Expand(SchemaNode s, string pointer)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (s.Ref is { } target)
        {
            if (!seen.Add(target) || reader.Resolve(target, pointer, requireBody: false) is not { } body)
            {
                return SchemaNode.True(pointer);
            }

            s = body;
        }

        return s;
    }

    private bool Disjoint(SchemaNode x, SchemaNode y, string pointer)
    {
        x = Expand(x, pointer);
        y = Expand(y, pointer);
        if (x.IsFalse || y.IsFalse)
        {
            return true;
        }

        // Unions that reach themselves through references: not provable here (refuse the oneOf).
        if (!_comparing.Add((x, y)))
        {
            return false;
        }

        reader.Guard.Enter("oneOf", pointer);
        try
        {
            return DisjointBodies(x, y, pointer);
        }
        finally
        {
            reader.Guard.Exit();
            _comparing.Remove((x, y));
        }
    }

    private bool DisjointBodies(SchemaNode x, SchemaNode y, string pointer)
    {
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

        // Discriminator: objects only, with a property both require whose schemas share no value; arrays only, with
        // a position both require (within both minItems) whose schemas share no value. Each side's schema there is
        // the declared one, which what else applies (patterns, contains) can only narrow.
        return common switch
        {
            JsonTypes.Object => x.Required.Intersect(y.Required).Any(name => Disjoint(ValuesOf(x, name), ValuesOf(y, name), pointer)),
            JsonTypes.Array => Enumerable.Range(0, Math.Min(x.MinItems, y.MinItems)).Any(i => Disjoint(ItemAt(x, i), ItemAt(y, i), pointer)),
            _ => false,
        };
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

/// <summary>Pairs of merge operands: reference targets (strings) by value, nodes by identity.</summary>
internal sealed class OperandPairComparer : IEqualityComparer<(object, object)>
{
    public static readonly OperandPairComparer Instance = new();

    public bool Equals((object, object) x, (object, object) y) => Same(x.Item1, y.Item1) && Same(x.Item2, y.Item2);

    public int GetHashCode((object, object) obj) => HashCode.Combine(Hash(obj.Item1), Hash(obj.Item2));

    private static bool Same(object a, object b) => a is string s ? b is string t && string.Equals(s, t, StringComparison.Ordinal) : ReferenceEquals(a, b);

    private static int Hash(object o) => o is string s ? StringComparer.Ordinal.GetHashCode(s) : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(o);
}
