using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Flywheel.Structured;

internal sealed partial class GrammarBuilder
{
    /// <summary>
    /// The states that read one member key of an object whose declared properties come in declared
    /// order: from <c>result[k]</c>, the quoted key of any property from k up to the first required
    /// one at or after k (or the last), ending at that property's <paramref name="keyEnds"/> state.
    /// A trie over the keys' bytes where each node is instantiated once per least property index it
    /// still allows (the keys it allows are then the node's keys from that index to the end of its run
    /// of optional properties), so its edges are deterministic and every determinized state names a
    /// node or two, whatever the number of properties. States: at most the sum of the keys' lengths
    /// (each node once per key below it).
    /// </summary>
    /// <param name="keys">The properties' keys as written (quoted JSON strings, UTF-8), in declared order; distinct.</param>
    /// <param name="required">Per property, whether it is required.</param>
    /// <param name="keyEnds">Per property, the state reached after its key.</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int[] KeyDispatch(List<byte[]> keys, bool[] required, int[] keyEnds)
    {
        var n = keys.Count;
        var last = new int[n]; // the last property allowed when property k is the first one allowed
        for (var k = n - 1; k >= 0; k--)
        {
            last[k] = required[k] || k == n - 1 ? k : last[k + 1];
        }

        // A trie node is a run order[lo..hi) of the keys sorted by bytes, at a depth: they share
        // their first depth bytes. Keys that end at a node sort first in its run. (Quoted keys are
        // prefix-free, since a key's closing quote is its only unescaped one, so such a key is its
        // node's only one, unless the schema names a property twice; each copy is then allowed at its
        // own position, as when every key had its own chain of states.)
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => keys[a].AsSpan().SequenceCompareTo(keys[b]));
        var indicesOf = new Dictionary<(int Lo, int Hi), int[]>();   // a run's property indices, ascending
        var childrenOf = new Dictionary<(int Depth, int Lo), List<(byte Byte, int Lo, int Hi)>>();
        var instances = new Dictionary<(int Depth, int Lo, int First), int>();
        var pending = new Stack<(int Depth, int Lo, int Hi, int First, int State)>();

        int Instance(int depth, int lo, int hi, int first)
        {
            if (!instances.TryGetValue((depth, lo, first), out var state))
            {
                state = Nfa.AddState();
                instances[(depth, lo, first)] = state;
                pending.Push((depth, lo, hi, first, state));
            }

            return state;
        }

        var result = new int[n];
        for (var k = 0; k < n; k++)
        {
            result[k] = Instance(0, 0, n, k);
        }

        while (pending.TryPop(out var node))
        {
            var (depth, lo, hi, first, state) = node;
            var ends = lo;
            for (; ends < hi && keys[order[ends]].Length == depth; ends++)
            {
                if (order[ends] >= first && order[ends] <= last[first])
                {
                    Nfa.AddEps(state, keyEnds[order[ends]]); // the whole key
                }
            }

            // (Children are cached by depth and first key: ends < hi keeps that key inside this node.)
            foreach (var (b, childLo, childHi) in ends < hi ? Children(depth, ends, hi) : [])
            {
                // The child's least property index at or after first, if the run still allows it.
                Nfa.Budget.Tick();
                var below = IndicesOf(childLo, childHi);
                var at = below.AsSpan().BinarySearch(first);
                at = at < 0 ? ~at : at;
                if (at < below.Length && below[at] <= last[first])
                {
                    Nfa.AddBytes(state, b, b, Instance(depth + 1, childLo, childHi, below[at]));
                }
            }
        }

        return result;

        List<(byte Byte, int Lo, int Hi)> Children(int depth, int lo, int hi)
        {
            if (!childrenOf.TryGetValue((depth, lo), out var children))
            {
                children = [];
                for (var i = lo; i < hi;)
                {
                    var b = keys[order[i]][depth];
                    var j = i + 1;
                    while (j < hi && keys[order[j]][depth] == b)
                    {
                        j++;
                    }

                    children.Add((b, i, j));
                    i = j;
                }

                childrenOf[(depth, lo)] = children;
            }

            return children;
        }

        int[] IndicesOf(int lo, int hi)
        {
            // Shared by every node of the run: along a key's unshared tail, one array of one index.
            if (!indicesOf.TryGetValue((lo, hi), out var indices))
            {
                indices = order[lo..hi];
                Array.Sort(indices);
                indicesOf[(lo, hi)] = indices;
            }

            return indices;
        }
    }

    /// <summary>
    /// The keys of pattern and additional members, each with its value's schema: keys exclude declared
    /// names and other patterns, and satisfy propertyNames (<paramref name="keyNames"/>). A null key
    /// is any JSON string.
    /// </summary>
    private List<(ByteDfa? Key, SchemaNode Schema)> TailKeys(List<(ByteDfa Dfa, SchemaNode Schema)> patterns, List<string> names, SchemaNode additional, ByteDfa? keyNames)
    {
        var result = new List<(ByteDfa?, SchemaNode)>();
        ByteDfa? excludedNames = null; // the declared names' trie, made when a key needs it
        for (var i = -1; i < patterns.Count; i++)
        {
            var schema = i < 0 ? additional : patterns[i].Schema;
            if (schema.IsFalse)
            {
                continue;
            }

            if (names.Count == 0 && patterns.Count == 0 && keyNames is null)
            {
                result.Add((null, schema));
                continue;
            }

            ByteDfa key;
            if (i < 0 && keyNames is null && names.Count > 0)
            {
                key = StringAutomata.TextExcept(names, Nfa.Budget); // any key but a declared name, made directly
            }
            else
            {
                key = i < 0 ? StringAutomata.AnyText : ByteDfa.Intersect(StringAutomata.AnyText, patterns[i].Dfa, Nfa.Budget);
                if (keyNames is not null)
                {
                    key = ByteDfa.Intersect(key, keyNames, Nfa.Budget);
                }

                if (names.Count > 0)
                {
                    excludedNames ??= StringAutomata.Literals(names, Nfa.Budget);
                    key = ByteDfa.Subtract(key, excludedNames, Nfa.Budget);
                }
            }

            for (var j = 0; j < patterns.Count; j++)
            {
                key = j == i ? key : ByteDfa.Subtract(key, patterns[j].Dfa, Nfa.Budget);
            }

            if (!key.IsEmpty)
            {
                result.Add((key, schema));
            }
        }

        return result;
    }

    /// <summary>One pattern or additional member from <paramref name="from"/> to <paramref name="back"/>.</summary>
    private void EmitTail(List<(ByteDfa? Key, SchemaNode Schema)> tail, int from, int back)
    {
        foreach (var (key, schema) in tail)
        {
            var keyEnd = key is null ? StringAutomata.EmitAnyJsonString(Nfa, from) : StringAutomata.EmitLifted(Nfa, key, from);
            var colon = Ws(Nfa.Literal(Ws(keyEnd), ":"u8));
            Nfa.AddEps(Ws(SharedValue(schema, colon)), back);
        }
    }

    /// <summary>The decoded texts propertyNames allows for a member key; null when it allows every key.</summary>
    private ByteDfa? KeyNames(SchemaNode node)
    {
        if (node.PropertyNames is not { } names)
        {
            return null;
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (names.Ref is { } target && seen.Add(target))
        {
            names = _reader.Resolve(target, node.Pointer, requireBody: true)!;
        }

        if (names.Ref is not null || names.AnyOf is not null)
        {
            throw new SchemaCompileException("propertyNames", node.Pointer, "alternatives or recursive references in propertyNames are not supported");
        }

        if (names.IsFalse || (names.Types & JsonTypes.String) == 0)
        {
            return StringAutomata.Literals([], Nfa.Budget); // no key is a valid name
        }

        if (names.Enum is { } values)
        {
            return StringAutomata.Literals(values.Where(v => v.ValueKind == JsonValueKind.String && Allows(names, v)).Select(v => v.GetString()!), Nfa.Budget);
        }

        return names.HasStringConstraints ? DecodedString(names) : null;
    }
}
