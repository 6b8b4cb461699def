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

    /// <summary>See <see cref="ByteGroups.FormClasses"/>; worked out on first use.</summary>
    public byte[][][] MultiByteFormClasses => _formClasses ??= ByteGroups.FormClasses(ClassOf);

    private byte[][][]? _formClasses;

    public int Move(int state, byte b) => Next[(state * ClassCount) + ClassOf[b]];

    /// <summary>Marks a <see cref="TextGroups"/> entry not worked out yet (a real one never holds <see cref="ByteGroups.Other"/>).</summary>
    public const ulong TextGroupsUnknown = ulong.MaxValue;

    private readonly object _textGroupsLock = new();
    private ulong[]? _textGroups;

    /// <summary>
    /// [StateCount]: per state, <see cref="ByteGroups"/> of <see cref="ByteGroups.Text"/> such that
    /// any run of bytes from them, read from the state, keeps it in plain states and alive (inside
    /// an unconstrained JSON string: all of Text), or <see cref="TextGroupsUnknown"/> until
    /// <see cref="TextGroupsOf"/> works it out. Filled on use because a grammar's walks meet few of its states.
    /// </summary>
    public ulong[] TextGroups
    {
        get
        {
            if (_textGroups is { } groups)
            {
                return groups;
            }

            groups = new ulong[StateCount];
            Array.Fill(groups, TextGroupsUnknown);
            return Interlocked.CompareExchange(ref _textGroups, groups, null) ?? groups;
        }
    }

    /// <summary>
    /// <see cref="TextGroups"/>[<paramref name="state"/>], worked out on first use together with the
    /// states its text reaches. Each state starts with the groups it reads through plain states and
    /// gives up any group that some move it keeps leads to a state without; what is left holds for
    /// every run. Under a lock: entries are only sound together, so one thread works them out at a time.
    /// </summary>
    public ulong TextGroupsOf(int state)
    {
        var known = TextGroups;
        if (known[state] != TextGroupsUnknown)
        {
            return known[state];
        }

        lock (_textGroupsLock)
        {
            if (known[state] != TextGroupsUnknown)
            {
                return known[state];
            }

            var order = new List<int> { state };
            var index = new Dictionary<int, int> { [state] = 0 };
            var moves = new List<List<(ulong Group, int Target)>>();
            var groups = new List<ulong>();
            for (var k = 0; k < order.Count; k++)
            {
                var list = new List<(ulong Group, int Target)>();
                groups.Add(ByteGroups.TextMoves(this, order[k], list));
                moves.Add(list);
                foreach (var (_, to) in list)
                {
                    if (known[to] == TextGroupsUnknown && index.TryAdd(to, order.Count))
                    {
                        order.Add(to);
                    }
                }
            }

            // States were found breadth first from the asked one, so a group lost deep down reaches
            // it in one pass from the back; further passes only for cycles.
            for (var changed = true; changed;)
            {
                changed = false;
                for (var k = order.Count - 1; k >= 0; k--)
                {
                    var g = groups[k];
                    foreach (var (group, to) in moves[k])
                    {
                        if ((group & g) != 0)
                        {
                            g &= known[to] != TextGroupsUnknown ? known[to] : groups[index[to]];
                        }
                    }

                    if (g != groups[k])
                    {
                        groups[k] = g;
                        changed = true;
                    }
                }
            }

            for (var k = 0; k < order.Count; k++)
            {
                known[order[k]] = groups[k];
            }

            return known[state];
        }
    }
}
