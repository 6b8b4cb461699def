using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Flywheel.Structured;

/// <summary>
/// The edges of one kind of a <see cref="ByteNfa"/>: appended in any order of states, then laid out
/// by state (a counting sort that keeps each state's edges in the order they were added) the first
/// time they are read after a change.
/// </summary>
internal sealed class EdgeLog<T>
    where T : struct
{
    private readonly List<int> _from = [];
    private readonly List<T> _edges = [];
    private int[] _starts = [0];      // per state, where its edges start in _sorted; one more at the end
    private T[] _sorted = [];
    private int _laidOut = -1;         // edges in the layout (-1: none yet)
    private int _layoutStates;

    /// <summary>Edges added so far (in the order they were added).</summary>
    public int Count => _edges.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(int from, T edge)
    {
        _from.Add(from);
        _edges.Add(edge);
    }

    /// <summary>The states left by the edges added [<paramref name="start"/>, <paramref name="end"/>)th.</summary>
    public ReadOnlySpan<int> Froms(int start, int end) => CollectionsMarshal.AsSpan(_from)[start..end];

    /// <summary>The edges added [<paramref name="start"/>, <paramref name="end"/>)th.</summary>
    public ReadOnlySpan<T> Edges(int start, int end) => CollectionsMarshal.AsSpan(_edges)[start..end];

    /// <summary>Forgets the edges added after the first <paramref name="count"/>.</summary>
    public void Truncate(int count)
    {
        _from.RemoveRange(count, _from.Count - count);
        _edges.RemoveRange(count, _edges.Count - count);
        _laidOut = -1; // as many edges as a layout had need not be the same edges
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ReadOnlySpan<T> Of(int state, int stateCount)
    {
        if (_laidOut != _edges.Count || _layoutStates != stateCount)
        {
            LayOut(stateCount);
        }

        return _sorted.AsSpan(_starts[state], _starts[state + 1] - _starts[state]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void LayOut(int stateCount)
    {
        var starts = new int[stateCount + 1];
        foreach (var f in _from)
        {
            starts[f + 1]++;
        }

        for (var s = 0; s < stateCount; s++)
        {
            starts[s + 1] += starts[s];
        }

        var sorted = new T[_edges.Count];
        var fill = starts[..stateCount];
        var edges = CollectionsMarshal.AsSpan(_edges);
        var from = CollectionsMarshal.AsSpan(_from);
        for (var k = 0; k < edges.Length; k++)
        {
            sorted[fill[from[k]]++] = edges[k];
        }

        _starts = starts;
        _sorted = sorted;
        _laidOut = edges.Length;
        _layoutStates = stateCount;
    }
}
