namespace Flywheel.Structured;

/// <summary>
/// Runs a <see cref="CompiledGrammar"/> as a pushdown automaton over bytes. A configuration is a
/// node of a persistent stack: (state, parent), where the parent chain holds return states and
/// ends in <see cref="FinalNode"/> (the whole value is done) or, while the mask cache explores one
/// state in isolation, in <see cref="BaseNode"/> (the stack below is unknown). Several
/// configurations may be alive at once where the grammar is ambiguous (e.g. anyOf of two
/// referenced objects). Nodes live in a pool that only grows within a request; the token walk
/// allocates above a mark and drops back to it, so nothing is allocated per token in steady state.
/// Not thread-safe: one per request.
/// </summary>
internal sealed class PdaRunner
{
    public const int FinalNode = 0, BaseNode = 1;
    private const int FinalState = -1, BaseState = -2;

    /// <summary>Live configurations beyond this mean a grammar ambiguous beyond reason: a bug.</summary>
    public const int MaxConfigurations = 512;

    private readonly CompiledGrammar _g;
    private int[] _nodeState = new int[1024];
    private int[] _nodeParent = new int[1024];
    private int[] _sets = new int[4096];

    public PdaRunner(CompiledGrammar grammar)
    {
        _g = grammar;
        _nodeState[FinalNode] = FinalState;
        _nodeParent[FinalNode] = -1;
        _nodeState[BaseNode] = BaseState;
        _nodeParent[BaseNode] = -1;
        NodeCount = 2;
    }

    public CompiledGrammar Grammar => _g;

    /// <summary>Nodes in use; set it back to drop everything allocated after a mark.</summary>
    public int NodeCount { get; set; }

    /// <summary>Set when a closure popped the frame sitting on <see cref="BaseNode"/> (cache walks only).</summary>
    public bool PoppedToBase { get; set; }

    /// <summary>Flat storage for configuration sets; callers own regions by index.</summary>
    public int[] Sets => _sets;

    public int StateOf(int node) => _nodeState[node];

    /// <summary>The stack below <paramref name="node"/>'s state (a node, or -1 for the base and final nodes).</summary>
    public int ParentOf(int node) => _nodeParent[node];

    public void EnsureSets(int size)
    {
        if (size > _sets.Length)
        {
            Array.Resize(ref _sets, Math.Max(size, _sets.Length * 2));
        }
    }

    public int NewNode(int state, int parent)
    {
        if (NodeCount == _nodeState.Length)
        {
            Array.Resize(ref _nodeState, NodeCount * 2);
            Array.Resize(ref _nodeParent, NodeCount * 2);
        }

        _nodeState[NodeCount] = state;
        _nodeParent[NodeCount] = parent;
        return NodeCount++;
    }

    /// <summary>Writes the closed configurations for the root start into Sets[dst..]; returns the count.</summary>
    public int Start(int dst)
    {
        var count = 0;
        Add(_g.RootStart, FinalNode, dst, ref count);
        return count;
    }

    /// <summary>
    /// Moves every configuration in Sets[src..src+srcCount) on byte <paramref name="b"/>, writing the
    /// closed results to Sets[dst..]; returns how many. Regions must not overlap.
    /// </summary>
    public int Advance(int src, int srcCount, byte b, int dst)
    {
        var count = 0;
        var cls = _g.ClassOf[b];
        for (var i = 0; i < srcCount; i++)
        {
            var node = _sets[src + i];
            var state = _nodeState[node];
            if (state < 0)
            {
                continue; // FinalNode: the value is complete, nothing may follow
            }

            var to = _g.Next[(state * _g.ClassCount) + cls];
            if (to < 0)
            {
                continue;
            }

            var parent = _nodeParent[node];
            if (_g.Flags[to] == CompiledGrammar.FlagBytes)
            {
                // Fast path: plain state, no return and no call.
                if (!Contains(dst, count, to, parent))
                {
                    Put(dst, ref count, NewNode(to, parent));
                }
            }
            else
            {
                Add(to, parent, dst, ref count);
            }
        }

        return count;
    }

    /// <summary>Closure: being in <paramref name="state"/> on stack <paramref name="parent"/>.</summary>
    private void Add(int state, int parent, int dst, ref int count)
    {
        if (state == FinalState)
        {
            for (var i = 0; i < count; i++)
            {
                if (_sets[dst + i] == FinalNode)
                {
                    return;
                }
            }

            Put(dst, ref count, FinalNode);
            return;
        }

        if (state == BaseState)
        {
            PoppedToBase = true;
            return;
        }

        var flags = _g.Flags[state];
        if ((flags & CompiledGrammar.FlagBytes) != 0 && !Contains(dst, count, state, parent))
        {
            Put(dst, ref count, NewNode(state, parent));
        }

        if ((flags & CompiledGrammar.FlagAccept) != 0)
        {
            // The rule may end here: return to the caller's continuation.
            Add(_nodeState[parent], _nodeParent[parent], dst, ref count);
        }

        if ((flags & CompiledGrammar.FlagCalls) != 0)
        {
            for (var c = _g.CallOffsets[state]; c < _g.CallOffsets[state + 1]; c++)
            {
                Add(_g.CallStarts[c], NewNode(_g.CallReturns[c], parent), dst, ref count);
            }
        }
    }

    private void Put(int dst, ref int count, int node)
    {
        if (count >= MaxConfigurations)
        {
            throw new InvalidOperationException($"grammar ambiguity exceeded {MaxConfigurations} live configurations");
        }

        EnsureSets(dst + count + 1);
        _sets[dst + count++] = node;
    }

    private bool Contains(int dst, int count, int state, int parent)
    {
        for (var i = 0; i < count; i++)
        {
            var n = _sets[dst + i];
            if (_nodeState[n] == state && SameStack(_nodeParent[n], parent))
            {
                return true;
            }
        }

        return false;
    }

    private bool SameStack(int a, int b)
    {
        while (a != b)
        {
            if (a < 0 || b < 0 || _nodeState[a] != _nodeState[b])
            {
                return false;
            }

            a = _nodeParent[a];
            b = _nodeParent[b];
        }

        return true;
    }

    /// <summary>
    /// Copies the stacks reachable from <paramref name="roots"/> into fresh, dense storage and
    /// rewrites the roots; call when the pool has grown large with dead committed nodes.
    /// </summary>
    public void Compact(Span<int> roots)
    {
        var map = new Dictionary<int, int> { [FinalNode] = FinalNode, [BaseNode] = BaseNode };
        var state = new int[Math.Max(1024, roots.Length * 64)];
        var parent = new int[state.Length];
        state[FinalNode] = FinalState;
        parent[FinalNode] = -1;
        state[BaseNode] = BaseState;
        parent[BaseNode] = -1;
        var count = 2;
        int Copy(int node)
        {
            if (map.TryGetValue(node, out var m))
            {
                return m;
            }

            var p = Copy(_nodeParent[node]);
            if (count == state.Length)
            {
                Array.Resize(ref state, count * 2);
                Array.Resize(ref parent, count * 2);
            }

            state[count] = _nodeState[node];
            parent[count] = p;
            map[node] = count;
            return count++;
        }

        for (var i = 0; i < roots.Length; i++)
        {
            roots[i] = Copy(roots[i]);
        }

        _nodeState = state;
        _nodeParent = parent;
        NodeCount = count;
    }

    public PdaRunner Clone()
    {
        var copy = new PdaRunner(_g)
        {
            _nodeState = (int[])_nodeState.Clone(),
            _nodeParent = (int[])_nodeParent.Clone(),
            NodeCount = NodeCount,
        };
        return copy;
    }
}
