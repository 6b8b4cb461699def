using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Flywheel.Structured;

internal sealed partial class GrammarBuilder
{
    /// <summary>Counted array positions beyond this are narrowed (maxItems) or refused (minItems).</summary>
    public const int MaxCountedItems = 1024;

    /// <summary>maxProperties of a map above this is narrowed to it (each member position is a copy of the member grammar).</summary>
    public const int MaxCountedProperties = 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int ObjectBody(SchemaNode node, int from)
    {
        var unreachable = Nfa.AddState();
        var props = node.Properties.ToList();
        foreach (var name in node.Required.Where(r => props.All(p => p.Key != r)))
        {
            // Required but not declared: it must still appear, valued by additionalProperties.
            if (node.PatternProperties.Count > 0)
            {
                throw new SchemaCompileException("required", node.Pointer, $"required property \"{name}\" is not in properties while patternProperties exist");
            }

            props.Add(new(name, node.AdditionalProperties ?? SchemaNode.True(node.Pointer)));
        }

        // A declared name that also matches patternProperties must satisfy those schemas too (every
        // keyword that applies to a member applies at once); the tail keys exclude declared names.
        var patterns = node.PatternProperties
            .Select(p => (Dfa: RegexCompiler.Compile(p.Key, "patternProperties", node.Pointer, Nfa.Budget), Schema: p.Value)).ToList();
        for (var i = 0; i < props.Count; i++)
        {
            var name = Encoding.UTF8.GetBytes(props[i].Key);
            foreach (var (dfa, schema) in patterns.Where(p => p.Dfa.Matches(name)))
            {
                props[i] = new(props[i].Key, _reader.Merger.Merge(props[i].Value, schema, props[i].Value.Pointer));
            }
        }

        // propertyNames: a declared name it rejects cannot appear; tail keys are intersected with it.
        var keyNames = KeyNames(node);
        for (var i = 0; i < props.Count; i++)
        {
            if (keyNames is not null && !keyNames.Matches(Encoding.UTF8.GetBytes(props[i].Key)))
            {
                props[i] = new(props[i].Key, SchemaNode.False(props[i].Value.Pointer));
            }
        }

        if (props.Any(p => p.Value.IsFalse && node.Required.Contains(p.Key)))
        {
            return unreachable;
        }

        // Documented narrowing: an object that declares properties but says nothing about others
        // gets no others (the spec would allow any); a bare object allows any members. Properties
        // declared false only forbid their names (as "not required" or a dependency writes them), and
        // members that are only required do not count as declared.
        var additional = node.AdditionalProperties
            ?? (node.Properties.Any(p => !p.Value.IsFalse) || node.PatternProperties.Count > 0 ? SchemaNode.False(node.Pointer) : SchemaNode.True(node.Pointer));
        var declared = props.Where(p => !p.Value.IsFalse).ToList();
        var tail = TailKeys(patterns, props.Select(p => p.Key).ToList(), additional, keyNames);
        var hasTail = tail.Count > 0;
        var requiredCount = declared.Count(p => node.Required.Contains(p.Key));

        // Exact only where the members written are counted by the grammar's structure: "at least one"
        // is "not {}"; a bound on a map's members (no declared ones) unrolls the tail. Duplicate keys in
        // a tail would be counted twice, so larger minimums with a tail stay refused.
        if (node.MinProperties > requiredCount && node.MinProperties > 1)
        {
            throw new SchemaCompileException("minProperties", node.Pointer, "only supported when it is 1 or the required properties alone satisfy it");
        }

        if (node.MaxProperties == 0)
        {
            // No members at all: only {} (when nothing is required).
            return requiredCount > 0 || node.MinProperties > 0 ? unreachable : Nfa.Literal(Ws(Nfa.Literal(from, "{"u8)), "}"u8);
        }

        var tailCap = (int?)null;
        if (node.MaxProperties is { } maxProps && (hasTail || maxProps < declared.Count))
        {
            if (declared.Count > 0 || !hasTail)
            {
                throw new SchemaCompileException("maxProperties", node.Pointer,
                    "only supported when the declared properties cannot exceed it, or on a map (no declared properties)");
            }

            tailCap = Math.Min(maxProps, MaxCountedProperties); // documented narrowing above the cap
            hasTail = tailCap > 0;
        }

        // Members in declared order, optional ones skippable. Where a member may start, the keys
        // allowed there (from the next property up to the first required one) are read by one trie
        // (KeyDispatch), not by an epsilon to each key: those made every such state name a key per
        // allowed property once determinized, quadratic in the property count (2,000 optional
        // properties needed over 4 million state-set entries and were refused).
        var open = Ws(Nfa.Literal(from, "{"u8));
        var end = Nfa.AddState();
        var n = declared.Count;
        var required = declared.Select(p => node.Required.Contains(p.Key)).ToArray();
        var next = new int[n + 1];   // before property k, after the comma that follows a written property
        var some = new int[n + 1];   // property k-1 written (with its trailing whitespace)
        for (var k = 0; k <= n; k++)
        {
            next[k] = k == 0 ? open : Nfa.AddState();
            some[k] = Nfa.AddState();
        }

        var optionalFrom = new bool[n + 1]; // every property from k on is optional
        optionalFrom[n] = true;
        for (var k = n - 1; k >= 0; k--)
        {
            optionalFrom[k] = optionalFrom[k + 1] && !required[k];
        }

        var keyEnds = new int[n];
        var shapes = n >= SharedMembersFrom ? new List<MemberShape>() : null;
        for (var k = 0; k < n; k++)
        {
            keyEnds[k] = Nfa.AddState();
            Nfa.AddEps(Ws(MemberAfterKey(keyEnds[k], declared[k].Value, shapes)), some[k + 1]);
        }

        var dispatch = KeyDispatch(declared.Select(p => Encoding.UTF8.GetBytes(CanonicalJson.Quote(p.Key))).ToList(), required, keyEnds);
        for (var k = 0; k < n; k++)
        {
            Nfa.AddEps(next[k], dispatch[k]);
        }

        for (var k = 1; k <= n; k++)
        {
            // A comma only where another member can follow: a later property, or the tail.
            if (k < n || hasTail)
            {
                Nfa.AddEps(Ws(Nfa.Literal(some[k], ","u8)), next[k]);
            }

            if (optionalFrom[k])
            {
                Nfa.AddBytes(some[k], (byte)'}', (byte)'}', end);
            }
        }

        if (optionalFrom[0] && node.MinProperties == 0)
        {
            Nfa.AddBytes(open, (byte)'}', (byte)'}', end);
        }

        if (hasTail && tailCap is { } cap)
        {
            // A map of at most cap members: a chain of member positions, each closing or going on.
            var key = open;
            for (var i = 0; i < cap; i++)
            {
                var written = Nfa.AddState();
                EmitTail(tail, key, written);
                Nfa.AddBytes(written, (byte)'}', (byte)'}', end);
                if (i + 1 < cap)
                {
                    key = Ws(Nfa.Literal(written, ","u8));
                }
            }
        }
        else if (hasTail)
        {
            // After the declared properties: pattern/additional members, comma-separated. They may
            // start wherever every declared property still to come is optional.
            var tailKey = Nfa.AddState();
            var tailSome = Nfa.AddState();
            for (var k = 0; k <= n; k++)
            {
                if (optionalFrom[k])
                {
                    Nfa.AddEps(next[k], tailKey);
                }
            }

            Nfa.AddBytes(tailSome, (byte)'}', (byte)'}', end);
            Nfa.AddEps(Ws(Nfa.Literal(tailSome, ","u8)), tailKey);
            EmitTail(tail, tailKey, tailSome);
        }

        return end;
    }

    private int ArrayBody(SchemaNode node, int from)
    {
        if (node.Contains is { } contains)
        {
            return ContainsBody(node, contains, from);
        }

        var prefix = node.PrefixItems;
        var items = node.Items ?? SchemaNode.True(node.Pointer);
        int? max = node.MaxItems;
        if (items.IsFalse)
        {
            max = Math.Min(max ?? prefix.Count, prefix.Count);
        }

        var min = node.MinItems;
        if (min > MaxCountedItems)
        {
            throw new SchemaCompileException("minItems", node.Pointer, $"values above {MaxCountedItems} are not supported");
        }

        if (max > MaxCountedItems)
        {
            max = Math.Max(min, MaxCountedItems); // documented narrowing
        }

        if (node.UniqueItems && (max is null || max > 1))
        {
            return UniqueBody(node, items, min, max, from);
        }

        var end = Nfa.AddState();
        if (min > (max ?? int.MaxValue))
        {
            return end;
        }

        var state = Ws(Nfa.Literal(from, "["u8));
        var explicitCount = max ?? Math.Max(Math.Max(prefix.Count, min), 1);
        var repeated = Math.Max(0, explicitCount - prefix.Count) + (max is null ? 1 : 0) > 1;
        int Item(int i, int at) => i < prefix.Count ? Value(prefix[i], at) : repeated ? SharedValue(items, at) : Value(items, at);
        for (var i = 0; i < explicitCount; i++)
        {
            if (i >= min)
            {
                Nfa.AddBytes(state, (byte)']', (byte)']', end);
            }

            var at = i == 0 ? state : Ws(Nfa.Literal(state, ","u8));
            state = Ws(Item(i, at));
        }

        if (explicitCount >= min)
        {
            Nfa.AddBytes(state, (byte)']', (byte)']', end);
        }

        if (max is null)
        {
            // Unbounded tail: ", item" repeats.
            var loop = Nfa.AddState();
            Nfa.AddEps(state, loop);
            Nfa.AddEps(Ws(Item(explicitCount, Ws(Nfa.Literal(loop, ","u8)))), loop);
            Nfa.AddBytes(loop, (byte)']', (byte)']', end);
        }

        return end;
    }
}
