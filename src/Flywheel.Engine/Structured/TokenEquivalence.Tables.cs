namespace Flywheel.Structured;

/// <summary>The tables <see cref="TokenEquivalence"/> refines over: a state's plain region, the moves into plain states backwards, the classes' member lists and the signature comparer.</summary>
internal static partial class TokenEquivalence
{
    /// <summary>
    /// <paramref name="state"/> and the plain states it reaches through plain states, in breadth-first
    /// order, with <paramref name="localOf"/> set for each, and the most bytes any of them is from
    /// <paramref name="state"/> at least; Complete false when there are more than
    /// <paramref name="maxStates"/> (the list then holds the first of them).
    /// </summary>
    public static (List<int> States, int Depth, bool Complete) PlainClosure(CompiledGrammar g, int state, int maxStates, int[] localOf, int[] stamp, int mark)
    {
        var (c, next, flags, exit) = (g.ClassCount, g.Next, g.Flags, ExitClassOf(g));
        var order = new List<int> { state };
        localOf[state] = 0;
        stamp[state] = mark;
        var (depth, levelEnd) = (0, 1);
        for (var k = 0; k < order.Count; k++)
        {
            if (k == levelEnd)
            {
                depth++;
                levelEnd = order.Count;
            }

            var row = order[k] * c;
            for (var x = 0; x < c; x++)
            {
                var t = next[row + x];
                if (t >= 0 && flags[t] == CompiledGrammar.FlagBytes && x != exit && stamp[t] != mark)
                {
                    if (order.Count == maxStates)
                    {
                        return (order, depth, false);
                    }

                    stamp[t] = mark;
                    localOf[t] = order.Count;
                    order.Add(t);
                }
            }
        }

        return (order, depth, true);
    }

    /// <summary>
    /// The byte class of <see cref="StacklessRegion.ExitByte"/>, whose moves a state's plain closure
    /// does not follow: the quote that ends a string leads into the rest of the document, which would
    /// otherwise join every string's closure to the whole grammar's.
    /// </summary>
    private static int ExitClassOf(CompiledGrammar g) => g.ClassOf[StacklessRegion.ExitByte];

    /// <summary>
    /// Whether <paramref name="t"/> is one of <paramref name="states"/> (<paramref name="localOf"/> may
    /// hold anything for others): a quote's move into the set (an escaped quote inside a string)
    /// is compared by label like any other, one out of it by identity.
    /// </summary>
    private static bool IsMember(int t, IReadOnlyList<int> states, int[] localOf) =>
        (uint)localOf[t] < (uint)states.Count && states[localOf[t]] == t;

    /// <summary>For each state of the set, the (local) states with a byte move into it when it is plain (CSR: preds[start[t]..start[t+1]]).</summary>
    private static (int[] Start, int[] Preds) PlainPredecessors(CompiledGrammar g, IReadOnlyList<int> states, int[] localOf)
    {
        var (n, c, next, flags, exit) = (states.Count, g.ClassCount, g.Next, g.Flags, ExitClassOf(g));
        var start = new int[n + 1];
        for (var k = 0; k < n; k++)
        {
            var row = states[k] * c;
            for (var x = 0; x < c; x++)
            {
                var t = next[row + x];
                if (t >= 0 && flags[t] == CompiledGrammar.FlagBytes && (x != exit || IsMember(t, states, localOf)))
                {
                    start[localOf[t] + 1]++;
                }
            }
        }

        for (var t = 0; t < n; t++)
        {
            start[t + 1] += start[t];
        }

        var preds = new int[start[n]];
        var fill = (int[])start.Clone();
        for (var k = 0; k < n; k++)
        {
            var row = states[k] * c;
            for (var x = 0; x < c; x++)
            {
                var t = next[row + x];
                if (t >= 0 && flags[t] == CompiledGrammar.FlagBytes && (x != exit || IsMember(t, states, localOf)))
                {
                    preds[fill[localOf[t]]++] = k;
                }
            }
        }

        return (start, preds);
    }

    /// <summary>The members of each class as doubly linked lists, so a class's members can be listed and moved in O(1) each.</summary>
    private sealed class ClassLists
    {
        public ClassLists(int n)
        {
            Head = new int[n];
            Next = new int[n];
            Previous = new int[n];
            Size = new int[n];
            Array.Fill(Head, -1);
            for (var s = n - 1; s >= 0; s--)
            {
                Link(s, 0);
            }
        }

        public int[] Head { get; }

        public int[] Next { get; }

        public int[] Previous { get; }

        public int[] Size { get; }

        public void Move(int s, int from, int to)
        {
            var (prev, next) = (Previous[s], Next[s]);
            if (prev >= 0)
            {
                Next[prev] = next;
            }
            else
            {
                Head[from] = next;
            }

            if (next >= 0)
            {
                Previous[next] = prev;
            }

            Size[from]--;
            Link(s, to);
        }

        private void Link(int s, int to)
        {
            Previous[s] = -1;
            Next[s] = Head[to];
            if (Head[to] >= 0)
            {
                Previous[Head[to]] = s;
            }

            Head[to] = s;
            Size[to]++;
        }
    }

    /// <summary>
    /// Compares states by their label and their moves' codes under the current labels (dead, the
    /// target state when it is not plain, else the target's label), read from the tables, so no
    /// signature is stored: the labels do not change while a round's groups are formed.
    /// </summary>
    private sealed class SignatureComparer(CompiledGrammar g, int[] label, IReadOnlyList<int> states, int[] localOf) : IEqualityComparer<int>
    {
        private readonly int[] _next = g.Next;
        private readonly byte[] _flags = g.Flags;
        private readonly int _classCount = g.ClassCount;
        private readonly int _exit = ExitClassOf(g);

        public bool Equals(int x, int y)
        {
            if (label[x] != label[y])
            {
                return false;
            }

            var (rx, ry) = (states[x] * _classCount, states[y] * _classCount);
            for (var k = 0; k < _classCount; k++)
            {
                if (Code(k, _next[rx + k]) != Code(k, _next[ry + k]))
                {
                    return false;
                }
            }

            return true;
        }

        public int GetHashCode(int s)
        {
            var hash = new HashCode();
            hash.Add(label[s]);
            var row = states[s] * _classCount;
            for (var k = 0; k < _classCount; k++)
            {
                hash.Add(Code(k, _next[row + k]));
            }

            return hash.ToHashCode();
        }

        private int Code(int x, int t) =>
            t < 0 ? -1 : _flags[t] == CompiledGrammar.FlagBytes && (x != _exit || IsMember(t, states, localOf)) ? -2 - label[localOf[t]] : t;
    }
}
