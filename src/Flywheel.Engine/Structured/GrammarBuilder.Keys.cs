using System.Runtime.CompilerServices;

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
}
