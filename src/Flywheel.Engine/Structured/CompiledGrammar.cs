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

    /// <summary>See <see cref="ByteGroups.TextClassGroups"/>; worked out on first use.</summary>
    public (byte Class, ulong Groups)[] TextClassGroups => _textClassGroups ??= ByteGroups.TextClassGroups(ClassOf);

    private (byte Class, ulong Groups)[]? _textClassGroups;

    /// <summary>[StateCount]: per state its byte moves as runs for <see cref="StacklessRegion"/>, worked out on first use.</summary>
    internal int[]?[] RegionRuns => _regionRuns ??= new int[]?[StateCount];

    private int[]?[]? _regionRuns;

    /// <summary>Scratch of <see cref="ByteGroups.TextMoves"/>, used under the text-groups lock only.</summary>
    internal Dictionary<long, int[]?> ContinuationMemo { get; } = [];

    /// <summary>Scratch state lists of <see cref="ByteGroups.TextMoves"/>, used under the text-groups lock only.</summary>
    internal (List<int> Current, List<int> After) TextMoveScratch { get; } = ([], []);

    public int Move(int state, byte b) => Next[(state * ClassCount) + ClassOf[b]];

    /// <summary>
    /// Marks a <see cref="TextGroups"/> entry not worked out yet. Entries hold the complement of the
    /// groups, which is never 0 (groups never hold <see cref="ByteGroups.Other"/>), so a new array is
    /// all unknown as allocated: a 200k-state grammar's walks meet a few thousand of its states, and
    /// filling the whole array with a marker wrote (and faulted in) every page of it.
    /// </summary>
    public const ulong TextGroupsUnknown = 0;

    private readonly object _textGroupsLock = new();
    private ulong[]? _textGroups;

    /// <summary>
    /// [StateCount]: per state, the complement of the <see cref="ByteGroups"/> of <see cref="ByteGroups.Text"/>
    /// such that any run of bytes from them, read from the state, keeps it in plain states and alive
    /// (inside an unconstrained JSON string: all of Text), or <see cref="TextGroupsUnknown"/> until
    /// <see cref="TextGroupsOf"/> works it out. Filled on use because a grammar's walks meet few of its states.
    /// </summary>
    private ulong[] TextGroups => UnknownGroups(ref _textGroups);

    /// <summary>
    /// [StateCount]: like <see cref="TextGroups"/> (complements too) but only for runs of at most
    /// <see cref="ByteGroups.BoundDepth"/> moves (a move reads an ASCII byte or a whole multi-byte
    /// character, see <see cref="ByteGroups.TextMoves"/>) (or <see cref="TextGroupsUnknown"/>): inside a
    /// bounded repeat, such as a host-name label of up to 63 characters, no group holds for every
    /// run, but most hold for the length of any token. See <see cref="BoundedTextGroupsOf"/>.
    /// </summary>
    private ulong[] BoundedTextGroups => UnknownGroups(ref _boundedTextGroups);

    private ulong[]? _boundedTextGroups;
    private ulong[]? _localGroups;

    // Each state's text moves (ByteGroups.TextMoves) once worked out, all in one growing pair of
    // arrays: state s's are at [_moveStart[s], _moveEnd[s]), and _moveEnd[s] == 0 until then (a
    // worked-out state's end is past its start, which is at least 1). Under the lock only; no
    // object per state, because a string-heavy grammar meets tens of thousands of them.
    private int[]? _moveStart, _moveEnd;
    private ulong[] _moveGroups = [];
    private int[] _moveTargets = [];
    private int _moveCount = 1;
    private readonly List<(ulong Group, int Target)> _movesScratch = [];
    private readonly List<int> _order = [];
    private int[]? _reachStamp;
    private int _reachMark;

    /// <summary>
    /// <see cref="TextGroups"/>[<paramref name="state"/>], worked out on first use together with the
    /// states its text reaches. Each state starts with the groups it reads through plain states and
    /// gives up, for each move it keeps that leads to a state without all of them, either that
    /// move's group or the groups the target lacks (whichever loses fewer); what is left holds for
    /// every run. Under a lock: entries are only sound together, so one thread works them out at a time.
    /// </summary>
    public ulong TextGroupsOf(int state) => TryHeld(TextGroups, state, out var held) ? held : GroupsOf(state, TextGroups, (order, index, known) =>
    {
        var groups = order.Select(s => _localGroups![s]).ToArray();

        // States were found breadth first from the asked one, so a group lost deep down reaches
        // it in one pass from the back; further passes only for cycles.
        for (var changed = true; changed;)
        {
            changed = false;
            for (var k = order.Count - 1; k >= 0; k--)
            {
                var g = groups[k];
                var from = order[k];
                for (var m = _moveStart![from]; m < _moveEnd![from]; m++)
                {
                    var (group, to) = (_moveGroups[m], _moveTargets[m]);
                    if ((group & g) != 0)
                    {
                        g = Narrow(g, group, TryHeld(known, to, out var targetGroups) ? targetGroups : groups[index[to]]);
                    }
                }

                if (g != groups[k])
                {
                    groups[k] = g;
                    changed = true;
                }
            }
        }

        return groups;
    });

    /// <summary>
    /// <see cref="BoundedTextGroups"/>[<paramref name="state"/>], worked out on first use together
    /// with the states its text reaches: level k holds the groups any run of up to k moves of them
    /// keeps in plain states and alive (level 0 all of Text), each state's level k narrowed from its
    /// moves' level k - 1 as in <see cref="TextGroupsOf"/>; a state already known stands for every level.
    /// </summary>
    public ulong BoundedTextGroupsOf(int state) => TryHeld(BoundedTextGroups, state, out var held) ? held : GroupsOf(state, BoundedTextGroups, (order, index, known) =>
    {
        var level = new ulong[order.Count];
        var next = new ulong[order.Count];
        Array.Fill(level, ByteGroups.Text);
        var levels = new List<ulong[]> { level };

        // A level equal to the one before is a fixpoint: every later level is computed from it alike.
        var changed = true;
        for (var depth = 1; depth <= ByteGroups.BoundDepth && changed; depth++)
        {
            changed = false;
            for (var k = 0; k < order.Count; k++)
            {
                var from = order[k];
                var g = _localGroups![from];
                for (var m = _moveStart![from]; m < _moveEnd![from]; m++)
                {
                    var (group, to) = (_moveGroups[m], _moveTargets[m]);
                    if ((group & g) != 0)
                    {
                        g = Narrow(g, group, TryHeld(known, to, out var targetGroups) ? targetGroups : level[index[to]]);
                    }
                }

                next[k] = g;
                changed |= g != level[k];
            }

            // Fresh arrays: every level is kept for KeepLevels.
            (level, next) = (next, new ulong[order.Count]);
            levels.Add(level);
        }

        KeepLevels(order, levels);
        return level;
    });

    /// <summary>
    /// Per state, its bounded groups by run length (entry h: runs of at most h moves, h up to
    /// <see cref="ByteGroups.BoundDepth"/>), kept only for states whose short runs read more than
    /// <see cref="BoundedTextGroups"/> (the last positions of a bounded repeat, where a 16-move
    /// run dies but most tokens are shorter): 136 bytes for each such state its text search reached,
    /// plus 8 bytes a state for the index, made when the first such state is met.
    /// </summary>
    private ulong[]?[]? _levelGroups;

    /// <summary>
    /// Groups of <see cref="ByteGroups.Text"/> such that any run of at most <paramref name="length"/>
    /// (1 to <see cref="ByteGroups.BoundDepth"/>) moves of them, read from <paramref name="state"/>,
    /// keeps it in plain states and alive; 0 when none are kept beyond <see cref="BoundedTextGroups"/>.
    /// Only after <see cref="BoundedTextGroupsOf"/> has worked the state out (0 before: sound).
    /// </summary>
    public ulong ShortRunGroupsOf(int state, int length) =>
        Volatile.Read(ref _levelGroups) is { } all && all[state] is { } levels ? levels[length] : 0;

    /// <summary>Keeps the levels of the states in <paramref name="order"/> whose short runs read more than their last level. Under the lock.</summary>
    private void KeepLevels(List<int> order, List<ulong[]> levels)
    {
        var last = levels[^1];
        for (var k = 0; k < order.Count; k++)
        {
            // Level 0 (all of Text) holds for every state and is never asked for.
            var differs = false;
            for (var depth = 1; depth < levels.Count - 1 && !differs; depth++)
            {
                differs = levels[depth][k] != last[k];
            }

            if (!differs)
            {
                continue;
            }

            var kept = new ulong[ByteGroups.BoundDepth + 1];
            for (var depth = 0; depth <= ByteGroups.BoundDepth; depth++)
            {
                kept[depth] = levels[Math.Min(depth, levels.Count - 1)][k];
            }

            if (_levelGroups is null)
            {
                Volatile.Write(ref _levelGroups, new ulong[]?[StateCount]);
            }

            _levelGroups![order[k]] = kept;
        }
    }

    /// <summary>A [StateCount] array of <see cref="TextGroupsUnknown"/>, made once and published in <paramref name="field"/>.</summary>
    private ulong[] UnknownGroups(ref ulong[]? field)
    {
        if (field is { } groups)
        {
            return groups;
        }

        groups = new ulong[StateCount];
        return Interlocked.CompareExchange(ref field, groups, null) ?? groups;
    }

    /// <summary>
    /// The groups <paramref name="known"/> holds the complement of for <paramref name="state"/>, worked
    /// out on first use under the text-groups lock together with the states its text reaches:
    /// <paramref name="solve"/> gets those states (breadth first from <paramref name="state"/>), their
    /// positions and <paramref name="known"/>, and returns their groups in that order.
    /// </summary>
    private ulong GroupsOf(int state, ulong[] known, Func<List<int>, int[], ulong[], ulong[]> solve)
    {
        if (Flags[state] != FlagBytes)
        {
            known[state] = ~0ul; // reads nothing without leaving plain states (sound on its own); held as its complement
            return 0;
        }

        lock (_textGroupsLock)
        {
            if (TryHeld(known, state, out var held))
            {
                return held;
            }

            var order = Reachable(state, known);
            var groups = solve(order, IndexOf(order), known);
            for (var k = 0; k < order.Count; k++)
            {
                known[order[k]] = ~groups[k]; // held as complements: see TextGroupsUnknown
            }

            return groups[0]; // order[0] is the state itself
        }
    }

    /// <summary>The groups <paramref name="known"/> holds for <paramref name="state"/> (as their complement), if it holds them yet.</summary>
    private static bool TryHeld(ulong[] known, int state, out ulong groups)
    {
        var held = known[state];
        groups = ~held;
        return held != TextGroupsUnknown;
    }

    /// <summary>
    /// A state's groups <paramref name="g"/> after a move on the groups <paramref name="group"/>
    /// (some of them in g) to a state that reads <paramref name="target"/>: without those groups,
    /// or only what the target reads too, whichever keeps more. Either way no kept group's move
    /// leads to a state without it.
    /// </summary>
    private static ulong Narrow(ulong g, ulong group, ulong target)
    {
        var kept = g & target;
        var dropped = g & ~group;
        return System.Numerics.BitOperations.PopCount(kept) >= System.Numerics.BitOperations.PopCount(dropped) ? kept : dropped;
    }

    /// <summary>Position in <paramref name="order"/> of each of its states (other entries are stale). Under the lock.</summary>
    private int[] IndexOf(List<int> order)
    {
        _index ??= new int[StateCount];
        for (var k = 0; k < order.Count; k++)
        {
            _index[order[k]] = k;
        }

        return _index;
    }

    private int[]? _index;

    /// <summary>
    /// <paramref name="state"/> and the states its text moves reach, breadth first, not going past
    /// states <paramref name="known"/> already; works out and keeps each one's local groups and text
    /// moves (<see cref="ByteGroups.TextMoves"/>). Under the lock.
    /// </summary>
    private List<int> Reachable(int state, ulong[] known)
    {
        _localGroups ??= new ulong[StateCount];
        _moveStart ??= new int[StateCount];
        _moveEnd ??= new int[StateCount];
        _reachStamp ??= new int[StateCount];
        var mark = ++_reachMark;
        var order = _order;
        order.Clear();
        order.Add(state);
        _reachStamp[state] = mark;
        for (var k = 0; k < order.Count; k++)
        {
            var s = order[k];
            if (_moveEnd[s] == 0)
            {
                AddTextMoves(s);
            }

            for (var m = _moveStart[s]; m < _moveEnd[s]; m++)
            {
                var to = _moveTargets[m];
                if (known[to] == TextGroupsUnknown && _reachStamp[to] != mark)
                {
                    _reachStamp[to] = mark;
                    order.Add(to);
                }
            }
        }

        return order;
    }

    /// <summary>Works out <paramref name="state"/>'s local groups and text moves and appends the moves to the shared arrays. Under the lock.</summary>
    private void AddTextMoves(int state)
    {
        var list = _movesScratch;
        list.Clear();
        _localGroups![state] = ByteGroups.TextMoves(this, state, list);
        if (_moveCount + list.Count > _moveTargets.Length)
        {
            var size = Math.Max(2 * _moveTargets.Length, _moveCount + list.Count + 64);
            Array.Resize(ref _moveTargets, size);
            Array.Resize(ref _moveGroups, size);
        }

        _moveStart![state] = _moveCount;
        foreach (var (group, to) in list)
        {
            _moveGroups[_moveCount] = group;
            _moveTargets[_moveCount++] = to;
        }

        _moveEnd![state] = _moveCount;
    }
}
