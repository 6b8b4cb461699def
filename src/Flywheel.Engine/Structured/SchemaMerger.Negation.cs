using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// Negation and the keywords built on it (not, if/then/else, dependentRequired, dependentSchemas),
/// rewritten into unions of nodes the grammar builds exactly. A schema's complement is computed only
/// where it is again such a node: types (except "integer" alone: the non-integer numbers have no
/// grammar here), enum/const of strings, booleans and null, numeric bounds, required, and properties
/// whose schemas are themselves negatable. Anything else is refused naming the keyword, never approximated.
/// </summary>
internal sealed partial class SchemaMerger
{
    /// <summary>The instances <paramref name="n"/> rejects, as a node; throws naming <paramref name="keyword"/> when that is not exact.</summary>
    public SchemaNode Negate(SchemaNode n, string keyword, string pointer)
    {
        reader.Guard.Enter(keyword, pointer);
        try
        {
            return NegateBody(n, keyword, pointer);
        }
        finally
        {
            reader.Guard.Exit();
        }
    }

    private SchemaNode NegateBody(SchemaNode n, string keyword, string pointer)
    {
        if (n.Ref is { } target)
        {
            n = reader.Resolve(target, pointer, requireBody: true)!;
        }

        if (n.IsFalse)
        {
            return SchemaNode.True(pointer);
        }

        if (n.IsTrivial)
        {
            return SchemaNode.False(pointer);
        }

        if (n.AnyOf is { } branches)
        {
            // not (A or B) = not A and not B.
            return branches.Select(b => Negate(b, keyword, pointer)).Aggregate((x, y) => Merge(x, y, pointer));
        }

        var rest = n.ShallowCopy();
        (rest.Types, rest.Enum, rest.NotEnum, rest.Required, rest.Properties) = (JsonTypes.All, null, null, [], []);
        (rest.Minimum, rest.Maximum) = (null, null);
        if (!rest.IsTrivial)
        {
            throw new SchemaCompileException(keyword, pointer,
                "only the negation of type, const/enum (of strings, booleans, null), minimum/maximum, required and properties made of these can be enforced exactly");
        }

        var t = n.Types;
        var parts = new List<SchemaNode>();
        if (t != JsonTypes.All)
        {
            parts.Add(new SchemaNode { Pointer = pointer, Types = ComplementOf(t, keyword, pointer) });
        }

        if (n.Enum is { } values)
        {
            parts.Add(new SchemaNode { Pointer = pointer, Types = t, NotEnum = Excludable(values, t, keyword, pointer) });
        }

        if (n.NotEnum is { } excluded)
        {
            parts.Add(new SchemaNode { Pointer = pointer, Types = t, Enum = excluded });
        }

        // A number fails below the minimum or above the maximum (the flipped bound, exclusive where it was inclusive).
        var numbers = t & (JsonTypes.Integer | JsonTypes.Number);
        if (numbers != 0 && n.Minimum is { } min)
        {
            parts.Add(new SchemaNode { Pointer = pointer, Types = numbers, Maximum = min with { Exclusive = !min.Exclusive } });
        }

        if (numbers != 0 && n.Maximum is { } max)
        {
            parts.Add(new SchemaNode { Pointer = pointer, Types = numbers, Minimum = max with { Exclusive = !max.Exclusive } });
        }

        if ((t & JsonTypes.Object) != 0)
        {
            // An object fails when a required member is missing, or when a declared member fails its schema.
            parts.AddRange(n.Required.Select(r => Absent(r, pointer)));
            foreach (var (name, schema) in n.Properties.Where(p => !p.Value.IsTrivial))
            {
                parts.Add(new SchemaNode
                {
                    Pointer = pointer,
                    Types = JsonTypes.Object,
                    Required = [name],
                    Properties = [new(name, Negate(schema, keyword, pointer))],
                });
            }
        }

        return Union(parts, pointer);
    }

    /// <summary>Most branches a oneOf may have when exclusivity is enforced by negating the others.</summary>
    public const int MaxExclusiveBranches = 8;

    /// <summary>
    /// oneOf: the union of the branches when they are provably disjoint (judged on
    /// <paramref name="narrowed"/>, the branches under the sibling type); otherwise, where every branch
    /// is negatable, the union of "branch i and no other branch", which is exactly "one branch". Else
    /// the oneOf is refused: a grammar cannot count matches.
    /// </summary>
    public SchemaNode OneOf(IReadOnlyList<SchemaNode> branches, IReadOnlyList<SchemaNode> narrowed, string pointer)
    {
        try
        {
            RequireDisjoint(narrowed, pointer);
            return Union(branches, pointer);
        }
        catch (SchemaCompileException notDisjoint) when (branches.Count <= MaxExclusiveBranches)
        {
            List<SchemaNode> negated;
            try
            {
                negated = [.. branches.Select(b => Negate(b, "oneOf", pointer))];
            }
            catch (SchemaCompileException)
            {
                throw notDisjoint;
            }

            var alone = new List<SchemaNode>();
            for (var i = 0; i < branches.Count; i++)
            {
                var only = branches[i];
                for (var j = 0; j < branches.Count; j++)
                {
                    only = j == i ? only : Merge(only, negated[j], pointer);
                }

                alone.Add(only);
            }

            return Union(alone, pointer);
        }
    }

    /// <summary>if/then/else: (if and then) or (not if and else), two disjoint alternatives.</summary>
    public SchemaNode Conditional(SchemaNode condition, SchemaNode? then, SchemaNode? otherwise, string pointer)
    {
        if (then is null && otherwise is null)
        {
            return SchemaNode.True(pointer);
        }

        var holds = Merge(condition, then ?? SchemaNode.True(pointer), pointer);
        var fails = Merge(Negate(condition, "if", pointer), otherwise ?? SchemaNode.True(pointer), pointer);
        return Union([holds, fails], pointer);
    }

    /// <summary>
    /// dependentRequired / dependentSchemas for the member <paramref name="name"/>: a non-object, an
    /// object without it, or an object with it that satisfies <paramref name="then"/>.
    /// </summary>
    public SchemaNode Dependent(string name, SchemaNode then, string pointer)
    {
        // The members it needs first, then the member itself: the order a writer lists them in.
        var present = Merge(then, new SchemaNode { Pointer = pointer, Types = JsonTypes.Object, Required = [name] }, pointer);
        return Union([present, Absent(name, pointer), new SchemaNode { Pointer = pointer, Types = JsonTypes.All & ~JsonTypes.Object }], pointer);
    }

    /// <summary>Objects without the member <paramref name="name"/>.</summary>
    private static SchemaNode Absent(string name, string pointer) =>
        new() { Pointer = pointer, Types = JsonTypes.Object, Properties = [new(name, SchemaNode.False(pointer))] };

    private static JsonTypes ComplementOf(JsonTypes t, string keyword, string pointer)
    {
        // Number implies Integer; "integer" alone would leave the non-integer numbers, which have no grammar here.
        if ((t & JsonTypes.Integer) != 0 && (t & JsonTypes.Number) == 0)
        {
            throw new SchemaCompileException(keyword, pointer, "the negation of type \"integer\" (numbers with a fraction) cannot be enforced exactly");
        }

        return JsonTypes.All & ~t;
    }

    private static List<JsonElement> Excludable(List<JsonElement> values, JsonTypes t, string keyword, string pointer)
    {
        var kept = values.Where(v => (TypeOfValue(v) & t) != 0).ToList();
        if (kept.Any(v => v.ValueKind is JsonValueKind.Number or JsonValueKind.Object or JsonValueKind.Array))
        {
            throw new SchemaCompileException(keyword, pointer,
                "excluding numbers, objects or arrays (a negated const/enum) cannot be enforced exactly; only strings, booleans and null");
        }

        return kept;
    }

    private static JsonDecimal? MergeMultipleOf(JsonDecimal? a, JsonDecimal? b, string pointer)
    {
        if (a is not { } x || b is not { } y || x == y)
        {
            return a ?? b;
        }

        if (!x.IsInteger || !y.IsInteger)
        {
            throw new SchemaCompileException("multipleOf", pointer, "two different multipleOf values are only combined when both are integers");
        }

        var (p, q) = (BigInteger.Parse(x.IntDigits, CultureInfo.InvariantCulture), BigInteger.Parse(y.IntDigits, CultureInfo.InvariantCulture));
        var lcm = p / BigInteger.GreatestCommonDivisor(p, q) * q;
        return new JsonDecimal(false, lcm.ToString(CultureInfo.InvariantCulture), "");
    }
}
