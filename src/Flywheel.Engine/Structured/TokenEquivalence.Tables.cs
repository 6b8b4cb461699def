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

    /// <summary>
    /// For each state of the set, the (local) states with a move into it (CSR: preds[start[t]..start[t+1]]),
    /// from each state's distinct plain targets (targets[targetStart[s]..targetStart[s+1]], see <see cref="Patterns"/>).
    /// </summary>
    private static (int[] Start, int[] Preds) Predecessors(int n, int[] targetStart, int[] targets)
    {
        var start = new int[n + 1];
        foreach (var t in targets)
        {
            start[t + 1]++;
        }

        for (var t = 0; t < n; t++)
        {
            start[t + 1] += start[t];
        }

        var preds = new int[start[n]];
        var fill = (int[])start.Clone();
        for (var s = 0; s < n; s++)
        {
            for (var i = targetStart[s]; i < targetStart[s + 1]; i++)
            {
                preds[fill[targets[i]]++] = s;
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
    /// Each state's moves with the plain targets left open: an id per distinct pattern (per byte class:
    /// dead, the target itself when it is not plain or not in the set, else the first class moving to
    /// the same plain target), and the distinct plain targets (local) in class order, as CSR
    /// (targets[start[s]..start[s+1]]). A state's signature in a round is its label, its pattern and
    /// its targets' labels: worked out once here, a round then reads a few labels per state instead
    /// of its whole row.
    /// </summary>
    private static (int[] PatternOf, int[] Start, int[] Targets) Patterns(CompiledGrammar g, IReadOnlyList<int> states, int[] localOf)
    {
        var (n, c, next, flags, exit) = (states.Count, g.ClassCount, g.Next, g.Flags, ExitClassOf(g));

        // Rows are kept as runs ((first class, code) where the code changes, as CSR): equal rows have
        // equal runs, and a string's state has a handful of runs where its row has a code per class,
        // so the set's table is small (a full [n, c] copy of a closure of thousands of states is megabytes).
        var runs = new List<int>(4 * n);
        var runStart = new int[n + 1];
        var start = new int[n + 1];
        var targets = new List<int>();
        var firstClass = new int[n]; // per local target: the first class of the current state moving to it, valid where owner[t] == s + 1
        var owner = new int[n];
        for (var s = 0; s < n; s++)
        {
            var row = states[s] * c;
            var previous = int.MinValue;
            for (var x = 0; x < c; x++)
            {
                var t = next[row + x];
                int code;
                if (t < 0)
                {
                    code = -1;
                }
                else if (flags[t] == CompiledGrammar.FlagBytes && (x != exit || IsMember(t, states, localOf)))
                {
                    var local = localOf[t];
                    if (owner[local] != s + 1)
                    {
                        owner[local] = s + 1;
                        firstClass[local] = x;
                        targets.Add(local);
                    }

                    code = -2 - firstClass[local];
                }
                else
                {
                    code = t;
                }

                if (code != previous)
                {
                    runs.Add(x);
                    runs.Add(code);
                    previous = code;
                }
            }

            start[s + 1] = targets.Count;
            runStart[s + 1] = runs.Count;
        }

        var ids = new Dictionary<int, int>(new RunsComparer(runs, runStart));
        var patternOf = new int[n];
        for (var s = 0; s < n; s++)
        {
            if (!ids.TryGetValue(s, out var id))
            {
                id = ids.Count;
                ids.Add(s, id);
            }

            patternOf[s] = id;
        }

        return (patternOf, start, [.. targets]);
    }

    /// <summary>Compares the states' rows by their runs (CSR: runs[start[s]..start[s+1]]).</summary>
    private sealed class RunsComparer(List<int> runs, int[] start) : IEqualityComparer<int>
    {
        public bool Equals(int x, int y) => Row(x).SequenceEqual(Row(y));

        public int GetHashCode(int s)
        {
            var hash = new HashCode();
            hash.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Row(s)));
            return hash.ToHashCode();
        }

        private ReadOnlySpan<int> Row(int s) =>
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(runs)[start[s]..start[s + 1]];
    }

    /// <summary>
    /// Compares states by their label, their move pattern and their plain targets' labels under the
    /// current labels (see <see cref="Patterns"/>), so no signature is stored: the labels do not
    /// change while a round's groups are formed. States with equal patterns have as many targets.
    /// </summary>
    private sealed class SignatureComparer(int[] label, int[] patternOf, int[] start, int[] targets) : IEqualityComparer<int>
    {
        public bool Equals(int x, int y)
        {
            if (label[x] != label[y] || patternOf[x] != patternOf[y])
            {
                return false;
            }

            for (int i = start[x], j = start[y]; i < start[x + 1]; i++, j++)
            {
                if (label[targets[i]] != label[targets[j]])
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
            hash.Add(patternOf[s]);
            for (var i = start[s]; i < start[s + 1]; i++)
            {
                hash.Add(label[targets[i]]);
            }

            return hash.ToHashCode();
        }
    }
}
