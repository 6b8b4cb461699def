using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Flywheel.Structured;

/// <summary>
/// One DFA state's outgoing edges during subset construction, grouped by the byte (or byte-class) range
/// they cover, then cut into elementary runs between range boundaries: every symbol of a run leads to the
/// same set of NFA targets, so a determinization does one closure per run, not one per symbol. The members
/// of a big state set (a counted repetition's positions, an object's many optional properties) mostly
/// share a few ranges, so adding is one dictionary hit per change of range. Reused from state to state
/// (<see cref="Clear"/>); not thread-safe.
/// </summary>
/// <param name="width">Symbols in the alphabet: 256 bytes, or the number of byte classes.</param>
internal sealed class EdgeRuns(int width)
{
    private readonly Dictionary<(int Lo, int Hi), List<int>> _byRange = [];
    private readonly List<((int Lo, int Hi) Range, List<int> Targets)> _used = []; // the ranges this state's edges use
    private readonly int _width = width;
    private readonly bool[] _isCut = new bool[width + 1];
    private readonly List<int> _seeds = [];
    private (int Lo, int Hi) _lastRange;
    private List<int>? _last;

    /// <summary>Forgets the previous state's edges (the lists are kept for reuse).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Clear()
    {
        foreach (var (_, list) in _used)
        {
            list.Clear();
        }

        _used.Clear();
        Array.Clear(_isCut);
        _last = null;
    }

    /// <summary>An edge on symbols <paramref name="lo"/>..<paramref name="hi"/> (inclusive) to NFA state <paramref name="target"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(int lo, int hi, int target)
    {
        var range = (lo, hi);
        if (_last is null || range != _lastRange)
        {
            if (!_byRange.TryGetValue(range, out _last))
            {
                _byRange[range] = _last = [];
            }

            if (_last.Count == 0)
            {
                _used.Add((range, _last));
                _isCut[lo] = _isCut[hi + 1] = true;
            }

            _lastRange = range;
        }

        _last.Add(target);
    }

    /// <summary>
    /// The elementary runs that lead somewhere: first symbol, number of symbols, and the NFA targets of
    /// every edge covering the run (unsorted, with repeats; valid until the next step of the enumeration).
    /// A struct enumeration: determinization enumerates the runs of every state whose edges overlap,
    /// and an iterator object per state was garbage and a call through an interface per run.
    /// </summary>
    public RunList Runs() => new(this);

    /// <summary>See <see cref="Runs"/>.</summary>
    public readonly struct RunList(EdgeRuns owner)
    {
        public RunEnumerator GetEnumerator() => new(owner);
    }

    /// <summary>See <see cref="Runs"/>.</summary>
    public struct RunEnumerator(EdgeRuns owner)
    {
        private int _cut;
        private int _start = -1;

        public (int Start, int Length, List<int> Seeds) Current { get; private set; }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public bool MoveNext()
        {
            for (; _cut <= owner._width; _cut++)
            {
                if (!owner._isCut[_cut])
                {
                    continue;
                }

                var (start, cut) = (_start, _cut);
                _start = cut;
                if (start < 0)
                {
                    continue;
                }

                var seeds = owner._seeds;
                seeds.Clear();
                foreach (var ((lo, hi), targets) in owner._used)
                {
                    if (lo <= start && hi >= cut - 1)
                    {
                        seeds.AddRange(CollectionsMarshal.AsSpan(targets));
                    }
                }

                if (seeds.Count > 0)
                {
                    _cut++;
                    Current = (start, cut - start, seeds);
                    return true;
                }
            }

            return false;
        }
    }
}
