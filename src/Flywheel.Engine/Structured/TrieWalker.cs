namespace Flywheel.Structured;

/// <summary>
/// Walks a <see cref="TokenTrie"/> from one grammar state on an unknown stack: one byte per trie
/// edge, pruning a whole subtree as soon as its prefix is dead. Tokens whose fate depends on the
/// stack below the explored frame (the frame returned to <see cref="PdaRunner.BaseNode"/> part-way
/// through the token) are reported as uncertain. Reuses its buffers: no allocation per walk.
/// </summary>
/// <remarks>
/// While the prefix stays inside plain states of the rule (bytes only: no accept, no call), the
/// configuration set is exactly one (state, BaseNode) and the walk follows the determinized table
/// directly, without the <see cref="PdaRunner"/>: inside a JSON string that is almost the whole trie.
/// At the first state that needs a closure the subtree below is walked with the runner, from the
/// same single configuration, so both paths compute what a runner-only walk would.
/// </remarks>
internal sealed class TrieWalker
{
    private readonly TokenTrie _trie;
    private readonly int[] _fast;      // [depth]: the plain state there, or -1 when the set is general
    private readonly int[] _fastParent; // [depth]: with a plain state, the stack below it (a runner node)
    private readonly int[] _fastMark;   // [depth]: with a plain state, the runner's node count that keeps that stack
    private readonly int[] _free;       // [depth]: first slot of runner.Sets not holding a live set
    private readonly bool[] _fastPopped; // [depth]: with a plain state, some step on the path popped the explored frame
    private readonly int[] _setStart;
    private readonly int[] _setCount;
    private readonly int[] _nodeMark;
    private readonly bool[] _popped;
    private readonly bool[] _inRoot;   // [depth]: every byte on the path there is ASCII of the root's text groups
    private readonly uint[] _union;

    private readonly bool _skipText;
    private readonly bool _passRootChildren;

    /// <summary>
    /// Creates a walker; with <paramref name="skipText"/> subtrees of text its state reads safely
    /// are taken whole (see <see cref="ByteGroups"/>), and a prefix that leaves exactly one
    /// configuration in a plain state is walked on by the table, without the runner (off only to
    /// test that these shortcuts change nothing). With <paramref name="passRootChildren"/> (and
    /// <paramref name="skipText"/>) a walk of the whole trie passes dead root children from
    /// <see cref="TokenTrie.RootChildren"/> (off only to test that this changes nothing).
    /// </summary>
    public TrieWalker(TokenTrie trie, bool skipText = true, bool passRootChildren = true)
    {
        _trie = trie;
        _skipText = skipText;
        _passRootChildren = skipText && passRootChildren;
        var depth = trie.MaxDepth + 2;
        _fast = new int[depth];
        _fastParent = new int[depth];
        _fastMark = new int[depth];
        _free = new int[depth];
        _fastPopped = new bool[depth];
        _setStart = new int[depth];
        _setCount = new int[depth];
        _nodeMark = new int[depth];
        _popped = new bool[depth];
        _inRoot = new bool[depth];
        _union = new uint[trie.TextTokens.Length];
        Region = new StacklessRegion(trie.MaxDepth);
    }

    /// <summary>
    /// A root state that reads text groups S (not all of <see cref="ByteGroups.Text"/>) sets the text
    /// tokens made of S at once, with one pass over the mask per group it lacks, when it lacks at most this many.
    /// </summary>
    public const int MaxMissingGroups = 8;

    /// <summary>The trie this walker walks.</summary>
    public TokenTrie Trie => _trie;

    /// <summary>Scratch for <see cref="MaskCache"/>: the region of the state being walked.</summary>
    public StacklessRegion Region { get; }

    /// <summary>Scratch for <see cref="MaskCache"/>: (trie node, state before its byte) where a region walk exits.</summary>
    public List<(int Node, int State)> Frontier { get; } = [];

    private uint[]? _scratchMask;
    private bool _scratchTaken;

    /// <summary>
    /// Scratch for <see cref="MaskCache"/>: a clear mask of <paramref name="length"/> words, to be
    /// handed back clear with <see cref="ReturnScratchMask"/>. A miss walks into it rather than into
    /// a new 16 KB array; one never handed back (an exception part-way) is cleared on the next take.
    /// </summary>
    public uint[] TakeScratchMask(int length)
    {
        if (_scratchMask is null || _scratchMask.Length != length)
        {
            _scratchMask = new uint[length];
        }
        else if (_scratchTaken)
        {
            Array.Clear(_scratchMask);
        }

        _scratchTaken = true;
        return _scratchMask;
    }

    /// <summary>Hands back the mask of <see cref="TakeScratchMask"/>; the caller has cleared every bit it set.</summary>
    public void ReturnScratchMask() => _scratchTaken = false;

    /// <summary>
    /// Sets a bit in <paramref name="accepted"/> for every token that can be consumed from
    /// <paramref name="state"/> whatever the stack below; adds the tokens that pop below the state's
    /// frame to <paramref name="uncertain"/>. Uses runner.Sets[scratchStart..] and leaves the
    /// runner's node pool as it found it.
    /// </summary>
    public void Walk(PdaRunner runner, int state, int scratchStart, Span<uint> accepted, List<int> uncertain) =>
        Walk(runner, state, 1, _trie.NodeCount, scratchStart, accepted, uncertain, null);

    /// <summary>
    /// Like <see cref="Walk(PdaRunner, int, int, Span{uint}, List{int})"/> but stops where the
    /// prefix leaves the <see cref="StacklessRegion"/> (a state that needs a closure, or the
    /// <see cref="StacklessRegion.ExitByte"/>): sets the tokens that stay inside and records each exit in <see cref="Frontier"/>.
    /// </summary>
    public void WalkInside(PdaRunner runner, int state, int scratchStart, Span<uint> accepted)
    {
        Frontier.Clear();
        Walk(runner, state, 1, _trie.NodeCount, scratchStart, accepted, [], Frontier);
    }

    /// <summary>Walks the subtree of trie node <paramref name="node"/> from <paramref name="state"/> at its parent's depth.</summary>
    public void WalkSubtree(PdaRunner runner, int state, int node, int scratchStart, Span<uint> accepted, List<int> uncertain) =>
        Walk(runner, state, node, _trie.Skip[node], scratchStart, accepted, uncertain, null);

    /// <summary>
    /// The walk over trie nodes [first, end), a run of whole subtrees whose parent (at depth
    /// Depth[first] - 1) is reached in <paramref name="state"/>. With a frontier, exits from plain
    /// states are recorded and not entered.
    /// </summary>
    private void Walk(PdaRunner runner, int state, int first, int end, int scratchStart, Span<uint> accepted, List<int> uncertain, List<(int Node, int State)>? frontier)
    {
        var g = runner.Grammar;
        var next = g.Next;
        var classOf = g.ClassOf;
        var classCount = g.ClassCount;
        var flags = g.Flags;
        var t = _trie;
        var label = t.Label;
        var depthOf = t.Depth;
        var skip = t.Skip;
        var tokenStart = t.TokenStart;
        var tokens = t.Tokens;
        var subtreeGroups = t.SubtreeGroups;
        var height = t.Height;
        var skipText = _skipText;
        var root = depthOf[first] - 1;
        var mark = runner.NodeCount;
        var exitByte = frontier is null ? -1 : StacklessRegion.ExitByte;
        var fast = _fast;
        var fastParent = _fastParent;
        var fastMark = _fastMark;
        var free = _free;
        fast[root] = state;
        fastParent[root] = PdaRunner.BaseNode;
        fastMark[root] = mark;
        free[root] = scratchStart;
        var fastPopped = _fastPopped;
        fastPopped[root] = false;

        // From the root, a state that reads all text safely accepts every all-text token: set them
        // from the vocabulary's mask and skip every subtree holding nothing else. One that reads
        // most groups sets the text tokens made of its groups the same way, and then takes any
        // subtree of those groups below a path of them without writing its bits again.
        var allText = t.AllText;
        var nextNotText = t.NextNotText;
        var textDone = false;
        var rootGroups = 0ul;
        if (skipText && first == 1 && end == t.NodeCount)
        {
            var groups = g.TextGroupsOf(state);
            var missing = ByteGroups.Text & ~groups;
            if (missing == 0)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(accepted, t.TextTokens, accepted);
                textDone = true;
            }
            else if (groups != 0 && System.Numerics.BitOperations.PopCount(missing) <= MaxMissingGroups)
            {
                SetTextTokensOf(missing, accepted);
                rootGroups = groups;
            }
        }

        var inRoot = _inRoot;
        inRoot[root] = rootGroups != 0;

        // A walk of the whole trie passes the root's ~250 children, whose fields lie thousands of
        // nodes apart: from a state that reads a few bytes (a property name's first letters) most
        // are dead, so those are passed from the trie's side-by-side copy of the root's children,
        // by the same tests as below, without touching the node arrays (off with the shortcuts).
        var rootChildren = _passRootChildren && first == 1 && end == t.NodeCount ? t.RootChildren : [];
        var r = 0;

        var i = first;
        while (i < end)
        {
            if (r < rootChildren.Length)
            {
                while (r < rootChildren.Length && rootChildren[r].Node < i)
                {
                    r++;
                }

                if (r < rootChildren.Length && rootChildren[r].Node == i && PassesRootChild(g, rootChildren[r], state, textDone, inRoot[0], rootGroups))
                {
                    i = rootChildren[r].Skip;
                    continue;
                }
            }

            if (textDone && allText[i])
            {
                // Every node up to the next one that is not all text lies in an all-text subtree
                // (below an all-text node all are), whose tokens are set: jump there directly. The
                // children of a node near the root are thousands of such subtrees, scattered in memory.
                i = nextNotText[i];
                continue;
            }

            var d = depthOf[i];
            var q = fast[d - 1];
            if (q >= 0)
            {
                // Fast: the parent's set is the single configuration (q, fastParent), and a plain
                // state's move keeps that stack, so only fast[] needs writing. From the root the
                // stack is the unknown one below the state; below a runner step it is whatever
                // that step left when it left exactly one configuration.
                if (inRoot[d - 1] && (subtreeGroups[i] & ~rootGroups) == 0)
                {
                    // Every token below is text of the root's groups: set at the start.
                    i = skip[i];
                    continue;
                }

                if (skipText && ReadsWhole(g, q, subtreeGroups[i], height[i]))
                {
                    // Every token below is text of q's groups, which q reads without leaving
                    // plain states: all accepted, none leaves the region (text has no exit byte).
                    for (var k = tokenStart[i]; k < tokenStart[skip[i]]; k++)
                    {
                        var id = tokens[k];
                        accepted[id >> 5] |= 1u << (id & 31);
                    }

                    i = skip[i];
                    continue;
                }

                var b = label[i];
                var to = next[(q * classCount) + classOf[b]];
                if (to < 0)
                {
                    if (fastPopped[d - 1])
                    {
                        // Dead in the explored frame, but the frame was left on the way: the
                        // caller's stack decides.
                        for (var k = tokenStart[i]; k < tokenStart[skip[i]]; k++)
                        {
                            uncertain.Add(tokens[k]);
                        }
                    }

                    i = skip[i];
                    continue;
                }

                var plain = flags[to] == CompiledGrammar.FlagBytes && b != exitByte;

                // A state that may also end the explored frame, on the unknown stack: the closure
                // pops below (the runner would say so) and keeps the one configuration.
                var ends = skipText && !plain && frontier is null && flags[to] == (CompiledGrammar.FlagBytes | CompiledGrammar.FlagAccept)
                    && fastParent[d - 1] == PdaRunner.BaseNode;
                if (plain || ends)
                {
                    for (var k = tokenStart[i]; k < tokenStart[i + 1]; k++)
                    {
                        var id = tokens[k];
                        accepted[id >> 5] |= 1u << (id & 31);
                    }

                    fast[d] = to;
                    fastParent[d] = fastParent[d - 1];
                    fastMark[d] = fastMark[d - 1];
                    free[d] = free[d - 1];
                    fastPopped[d] = fastPopped[d - 1] || ends;
                    inRoot[d] = plain && inRoot[d - 1] && b < 0x80 && (ByteGroups.OfAscii(b) & ~rootGroups) == 0;
                    i++;
                    continue;
                }

                if (frontier is not null)
                {
                    frontier.Add((i, q));
                    i = skip[i];
                    continue;
                }

                // The child needs a closure: materialize the parent's single configuration for
                // the runner, past every set still in use.
                var start = free[d - 1];
                _setStart[d - 1] = start;
                _setCount[d - 1] = 1;
                _nodeMark[d - 1] = fastMark[d - 1];
                _popped[d - 1] = fastPopped[d - 1];
                runner.NodeCount = fastMark[d - 1];
                runner.EnsureSets(start + 1);
                runner.Sets[start] = runner.NewNode(q, fastParent[d - 1]);
            }
            else
            {
                runner.NodeCount = _nodeMark[d - 1];
            }

            var parentStart = _setStart[d - 1];
            var dst = parentStart + _setCount[d - 1];
            runner.PoppedToBase = false;
            var n = runner.Advance(parentStart, _setCount[d - 1], label[i], dst);
            var poppedHere = runner.PoppedToBase;
            var inherited = _popped[d - 1];
            if (n > 0 || poppedHere)
            {
                for (var k = tokenStart[i]; k < tokenStart[i + 1]; k++)
                {
                    var id = tokens[k];
                    accepted[id >> 5] |= 1u << (id & 31);
                }
            }
            else if (inherited)
            {
                for (var k = tokenStart[i]; k < tokenStart[i + 1]; k++)
                {
                    uncertain.Add(tokens[k]);
                }
            }

            if (n == 0)
            {
                if (inherited || poppedHere)
                {
                    for (var k = tokenStart[i + 1]; k < tokenStart[skip[i]]; k++)
                    {
                        uncertain.Add(tokens[k]);
                    }
                }

                i = skip[i];
                continue;
            }

            _setStart[d] = dst;
            _setCount[d] = n;
            _nodeMark[d] = runner.NodeCount;
            _popped[d] = inherited || poppedHere;
            var only = runner.Sets[dst];
            var onlyState = runner.StateOf(only);
            if (skipText && n == 1 && onlyState >= 0 && (flags[onlyState] == CompiledGrammar.FlagBytes
                || (flags[onlyState] == (CompiledGrammar.FlagBytes | CompiledGrammar.FlagAccept) && runner.ParentOf(only) == PdaRunner.BaseNode)))
            {
                // One configuration in a plain state (or one that may end the explored frame, on
                // the unknown stack): go on as from the root, on its stack (inside a string
                // after its opening quote, say, or in a number's digits).
                fast[d] = onlyState;
                fastParent[d] = runner.ParentOf(only);
                fastMark[d] = runner.NodeCount;
                free[d] = dst + 1;
                fastPopped[d] = _popped[d];
                inRoot[d] = false;
            }
            else
            {
                fast[d] = -1;
            }

            i++;
        }

        runner.NodeCount = mark;
    }

    /// <summary>
    /// Whether the full walk from <paramref name="state"/> passes root child <paramref name="c"/>
    /// by without a bit to set: its tokens are set already (all text, or text of the root's groups),
    /// or its byte is dead from the state and the text shortcut does not take it. The tests and
    /// their order are the loop's, on a frame that nothing has popped yet.
    /// </summary>
    private bool PassesRootChild(CompiledGrammar g, in TrieChild c, int state, bool textDone, bool inRoot, ulong rootGroups)
    {
        if ((textDone && c.AllText) || (inRoot && (c.SubtreeGroups & ~rootGroups) == 0))
        {
            return true;
        }

        if (_skipText && ReadsWhole(g, state, c.SubtreeGroups, c.Height))
        {
            return false; // taken whole below
        }

        return g.Next[(state * g.ClassCount) + g.ClassOf[c.Label]] < 0;
    }

    /// <summary>
    /// Whether plain state <paramref name="q"/> reads every token of a subtree with these groups and
    /// <paramref name="height"/> without leaving plain states. A state reads text groups only, so only
    /// a subtree of text can be taken whole: q's groups (on first use, a search of every state its
    /// text reaches) are looked up for such a subtree alone, and a frontier subtree (the closing quote
    /// on) never is one. Near the end of a bounded repeat no group holds for 16 moves, but most
    /// subtrees are shorter: their groups for runs of the subtree's height (in moves) decide.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static bool ReadsWhole(CompiledGrammar g, int q, ulong subtreeGroups, int height) =>
        (subtreeGroups & ~ByteGroups.Text) == 0
        && ((subtreeGroups & ~g.TextGroupsOf(q)) == 0
            || (height <= ByteGroups.BoundDepth && ((subtreeGroups & ~g.BoundedTextGroupsOf(q)) == 0
                || (subtreeGroups & ~g.ShortRunGroupsOf(q, height)) == 0)));

    /// <summary>ORs into <paramref name="accepted"/> the text tokens holding no byte of the groups <paramref name="missing"/>.</summary>
    private void SetTextTokensOf(ulong missing, Span<uint> accepted)
    {
        var union = _union.AsSpan();
        var first = true;
        for (var set = missing; set != 0; set &= set - 1)
        {
            var tokens = _trie.GroupTokens[System.Numerics.BitOperations.TrailingZeroCount(set)];
            if (first)
            {
                tokens.CopyTo(union);
                first = false;
            }
            else
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(union, tokens, union);
            }
        }

        System.Numerics.Tensors.TensorPrimitives.OnesComplement(union, union);
        System.Numerics.Tensors.TensorPrimitives.BitwiseAnd(union, _trie.TextTokens, union);
        System.Numerics.Tensors.TensorPrimitives.BitwiseOr(accepted, union, accepted);
    }
}
