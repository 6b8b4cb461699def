namespace Flywheel.Structured;

internal sealed partial class GrammarBuilder
{
    /// <summary>Most items a contains count tracks (minContains, or maxContains when given).</summary>
    public const int MaxCountedContains = 16;

    /// <summary>
    /// An array with contains: every item either satisfies it (and is counted) or satisfies its
    /// negation, so the count is exact; the close is allowed only with minContains..maxContains
    /// counted. Items are the node's items schema. Refused beside prefixItems, maxItems, minItems
    /// above 1 or uniqueItems, and where contains cannot be negated exactly.
    /// </summary>
    private int ContainsBody(SchemaNode node, SchemaNode contains, int from)
    {
        if (node.PrefixItems.Count > 0 || node.MaxItems is not null || node.MinItems > 1 || node.UniqueItems)
        {
            throw new SchemaCompileException("contains", node.Pointer, "only supported without prefixItems, maxItems, uniqueItems and with minItems of at most 1");
        }

        var (min, max) = (node.MinContains, node.MaxContains);
        var top = max ?? min;
        if (top > MaxCountedContains)
        {
            throw new SchemaCompileException("contains", node.Pointer, $"minContains/maxContains above {MaxCountedContains} are not supported");
        }

        var end = Nfa.AddState();
        if (max < min)
        {
            return end;
        }

        var items = node.Items ?? SchemaNode.True(node.Pointer);
        var hit = _reader.Merger.Merge(items, contains, node.Pointer);
        var miss = _reader.Merger.Merge(items, _reader.Merger.Negate(contains, "contains", node.Pointer), node.Pointer);
        var open = Ws(Nfa.Literal(from, "["u8));
        var after = new int[top + 1]; // after at least one item, with c items counted
        for (var c = 0; c <= top; c++)
        {
            after[c] = Nfa.AddState();
        }

        void Item(int at, int c)
        {
            Nfa.AddEps(Ws(SharedValue(miss, at)), after[c]);
            var next = max is null ? Math.Min(c + 1, top) : c + 1; // without maxContains the count saturates at minContains
            if (next <= top)
            {
                Nfa.AddEps(Ws(SharedValue(hit, at)), after[next]);
            }
        }

        Item(open, 0);
        for (var c = 0; c <= top; c++)
        {
            Item(Ws(Nfa.Literal(after[c], ","u8)), c);
            if (c >= min)
            {
                Nfa.AddBytes(after[c], (byte)']', (byte)']', end);
            }
        }

        if (min == 0 && node.MinItems == 0)
        {
            Nfa.AddBytes(open, (byte)']', (byte)']', end);
        }

        return end;
    }
}
