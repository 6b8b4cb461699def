using System.Text;
using System.Text.Json;

namespace Flywheel.Structured;

internal sealed partial class GrammarBuilder
{
    /// <summary>Most distinct values an array with uniqueItems may draw its items from.</summary>
    public const int MaxUniqueValues = 12;

    /// <summary>
    /// Most sets of already written values a uniqueItems array tracks (one group of grammar states
    /// each, with its whitespace runs): 2^10, or a larger domain under a small maxItems.
    /// </summary>
    public const int MaxUniqueSubsets = 1024;

    /// <summary>Deepest chain of $ref / anyOf the finite-domain reader follows.</summary>
    private const int MaxDomainDepth = 16;

    /// <summary>
    /// An array with uniqueItems whose items come from a finite set of values (enum, const, boolean,
    /// null, or a $ref / anyOf of those): one group of states per set of values already written
    /// (subset construction), so a value can appear at most once and the close is allowed between
    /// minItems and maxItems. Each value has one spelling (its canonical JSON text) and values equal
    /// as JSON (1 and 1.0, objects with their keys reordered) are one value, so no two items written
    /// can be equal. Refused beside prefixItems, for any other items schema, and past
    /// <see cref="MaxUniqueValues"/> values or <see cref="MaxUniqueSubsets"/> sets.
    /// </summary>
    private int UniqueBody(SchemaNode node, SchemaNode items, int min, int? max, int from)
    {
        if (node.PrefixItems.Count > 0)
        {
            throw new SchemaCompileException("uniqueItems", node.Pointer, "not supported together with prefixItems");
        }

        var domain = FiniteDomain(items, 0)
            ?? throw new SchemaCompileException("uniqueItems", node.Pointer,
                "only supported when the items are drawn from a finite set of values (enum, const, boolean or null items)");
        var spellings = domain
            .DistinctBy(v => CanonicalJson.Write(v, sortKeys: true), StringComparer.Ordinal)
            .Select(v => Encoding.UTF8.GetBytes(CanonicalJson.Write(v, sortKeys: false)))
            .ToList();
        var k = spellings.Count;
        if (k > MaxUniqueValues)
        {
            throw new SchemaCompileException("uniqueItems", node.Pointer, $"the items allow {k} distinct values; at most {MaxUniqueValues} are supported");
        }

        if (min > k)
        {
            throw new SchemaCompileException("uniqueItems", node.Pointer,
                $"unsatisfiable: minItems {min} exceeds the {k} distinct values the items allow");
        }

        var top = Math.Min(max ?? k, k);
        var subsetCount = 0L;
        for (var (j, c) = (0, 1L); j <= top; c = c * (k - j) / (j + 1), j++)
        {
            subsetCount += c;
        }

        if (subsetCount > MaxUniqueSubsets)
        {
            throw new SchemaCompileException("uniqueItems", node.Pointer,
                $"{k} distinct values with maxItems {top} need {subsetCount} tracked sets; at most {MaxUniqueSubsets} are supported (lower maxItems)");
        }

        // after[mask]: the values in mask are written (and the whitespace after the last). Built in
        // increasing mask order, so every set reached from one is built after it.
        var end = Nfa.AddState();
        var open = Ws(Nfa.Literal(from, "["u8));
        if (min == 0)
        {
            Nfa.AddBytes(open, (byte)']', (byte)']', end);
        }

        var written = new Dictionary<int, int>(); // mask -> state before the trailing whitespace
        for (var v = 0; v < k; v++)
        {
            written[1 << v] = Nfa.Literal(open, spellings[v]);
        }

        for (var mask = 1; mask < 1 << k; mask++)
        {
            if (!written.TryGetValue(mask, out var item))
            {
                continue;
            }

            var after = Ws(item);
            var count = int.PopCount(mask);
            if (count >= min)
            {
                Nfa.AddBytes(after, (byte)']', (byte)']', end);
            }

            if (count >= top)
            {
                continue;
            }

            var comma = Ws(Nfa.Literal(after, ","u8));
            for (var v = 0; v < k; v++)
            {
                if ((mask & (1 << v)) == 0)
                {
                    var next = mask | (1 << v);
                    if (!written.TryGetValue(next, out var target))
                    {
                        target = Nfa.AddState();
                        written[next] = target;
                    }

                    Nfa.AddEps(Nfa.Literal(comma, spellings[v]), target);
                }
            }
        }

        return end;
    }

    /// <summary>
    /// The values <paramref name="node"/> allows when they are finitely many (following $ref and
    /// anyOf as the grammar does), or null. Values are filtered by the node's other keywords.
    /// </summary>
    private List<JsonElement>? FiniteDomain(SchemaNode node, int depth)
    {
        if (depth > MaxDomainDepth)
        {
            return null;
        }

        if (node.IsFalse)
        {
            return [];
        }

        if (node.Ref is { } target)
        {
            return FiniteDomain(_reader.Resolve(target, node.Pointer, requireBody: true)!, depth + 1);
        }

        if (node.AnyOf is { } branches)
        {
            var all = new List<JsonElement>();
            foreach (var b in branches)
            {
                if (FiniteDomain(b, depth + 1) is not { } values)
                {
                    return null;
                }

                all.AddRange(values);
            }

            return all;
        }

        if (node.Enum is { } enumValues)
        {
            return [.. enumValues.Where(v => Allows(node, v))];
        }

        if (node.Types == 0 || (node.Types & ~(JsonTypes.Boolean | JsonTypes.Null)) != 0)
        {
            return null;
        }

        var literals = new List<JsonElement>();
        foreach (var (type, text) in (ReadOnlySpan<(JsonTypes, string)>)[(JsonTypes.Null, "null"), (JsonTypes.Boolean, "true"), (JsonTypes.Boolean, "false")])
        {
            var value = JsonSerializer.Deserialize<JsonElement>(text);
            if ((node.Types & type) != 0 && !node.Excludes(value))
            {
                literals.Add(value);
            }
        }

        return literals;
    }
}
