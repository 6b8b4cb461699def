namespace Flywheel.Structured;

/// <summary>
/// The runtime form of a grammar: every rule determinized over byte classes and trimmed, all rules'
/// states numbered in one space. A state may move on bytes, may accept (its rule may end there and
/// return to the caller) and may call rules (push a return state, continue at the callee's start).
/// Every state can still reach an accepting state and every called rule accepts some input, so a
/// configuration that exists can always be completed: this is what makes masks dead-end free.
/// Immutable and shareable across threads.
/// </summary>
internal sealed class CompiledGrammar
{
    public const byte FlagBytes = 1, FlagAccept = 2, FlagCalls = 4;

    public CompiledGrammar(byte[] classOf, int classCount, int[] next, byte[] flags, int[] callOffsets, int[] callStarts, int[] callReturns, int rootStart)
    {
        ClassOf = classOf;
        ClassCount = classCount;
        Next = next;
        Flags = flags;
        CallOffsets = callOffsets;
        CallStarts = callStarts;
        CallReturns = callReturns;
        RootStart = rootStart;
    }

    /// <summary>[256]: byte -> equivalence class (bytes no edge distinguishes share a class).</summary>
    public byte[] ClassOf { get; }

    public int ClassCount { get; }

    /// <summary>[StateCount * ClassCount]: next state, -1 = no move.</summary>
    public int[] Next { get; }

    /// <summary>[StateCount]: FlagBytes | FlagAccept | FlagCalls.</summary>
    public byte[] Flags { get; }

    /// <summary>[StateCount + 1]: calls of state s are at [CallOffsets[s], CallOffsets[s+1]).</summary>
    public int[] CallOffsets { get; }

    /// <summary>Start state of the called rule.</summary>
    public int[] CallStarts { get; }

    /// <summary>State of the caller to continue at after the callee accepts.</summary>
    public int[] CallReturns { get; }

    public int RootStart { get; }

    public int StateCount => Flags.Length;

    public int Move(int state, byte b) => Next[(state * ClassCount) + ClassOf[b]];

    private sbyte[]? _textSafe;

    /// <summary>
    /// [StateCount]: per state, 1 when any run of <see cref="ByteGroups.Text"/> read from it keeps
    /// it in plain states, alive (inside an unconstrained JSON string), -1 when not, 0 until
    /// <see cref="IsTextSafe"/> works it out. Filled on use because a grammar's walks meet few of
    /// its states; racing threads store the same answers.
    /// </summary>
    public sbyte[] TextSafe => _textSafe ?? Interlocked.CompareExchange(ref _textSafe, new sbyte[StateCount], null) ?? _textSafe!;

    /// <summary>Whether <paramref name="state"/> is text-safe (see <see cref="TextSafe"/>), working it out on first use.</summary>
    public bool IsTextSafe(int state)
    {
        var known = TextSafe;
        if (known[state] == 0)
        {
            WorkOutTextSafe(state, known);
        }

        return known[state] > 0;
    }

    /// <summary>
    /// Collects the states text reaches from <paramref name="state"/> that are not known yet; a
    /// state is unsafe when text moves it badly or to an unsafe state, so the unsafe ones are those
    /// from which an unsafe state is reachable, and all others are safe.
    /// </summary>
    private void WorkOutTextSafe(int state, sbyte[] known)
    {
        var order = new List<int> { state };
        var index = new Dictionary<int, int> { [state] = 0 };
        var successors = new List<List<int>>();
        var unsafeSeeds = new Stack<int>();
        var moves = new List<int>();
        for (var k = 0; k < order.Count; k++)
        {
            moves.Clear();
            var list = new List<int>();
            successors.Add(list);
            if (!ByteGroups.TextMoves(this, order[k], moves))
            {
                unsafeSeeds.Push(k);
                continue;
            }

            foreach (var to in moves)
            {
                if (known[to] < 0)
                {
                    unsafeSeeds.Push(k);
                }
                else if (known[to] == 0)
                {
                    if (!index.TryGetValue(to, out var j))
                    {
                        j = order.Count;
                        index[to] = j;
                        order.Add(to);
                    }

                    list.Add(j);
                }
            }
        }

        var predecessors = new List<int>[order.Count];
        for (var k = 0; k < order.Count; k++)
        {
            foreach (var j in successors[k])
            {
                (predecessors[j] ??= []).Add(k);
            }
        }

        var bad = new bool[order.Count];
        while (unsafeSeeds.Count > 0)
        {
            var k = unsafeSeeds.Pop();
            if (bad[k])
            {
                continue;
            }

            bad[k] = true;
            foreach (var p in predecessors[k] ?? [])
            {
                unsafeSeeds.Push(p);
            }
        }

        for (var k = 0; k < order.Count; k++)
        {
            known[order[k]] = bad[k] ? (sbyte)-1 : (sbyte)1;
        }
    }
}
