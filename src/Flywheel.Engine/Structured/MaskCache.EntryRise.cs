namespace Flywheel.Structured;

/// <summary>
/// What the token budget remembers of a cache entry (see GrammarMatcher.Budget.cs): the largest
/// rise over the tokens the entry can accept, outside a string region's text. Entries are shared
/// and immutable in what they accept, so the value never goes stale.
/// </summary>
internal sealed partial class MaskCache
{
    internal sealed partial class Entry
    {
        /// <summary>At most this many values are remembered per entry (one per text set it is asked about).</summary>
        public const int MaxRiseValues = 8;

        private RiseMemo? _rises;

        /// <summary>
        /// The largest rise remembered for <paramref name="outside"/> under the rise table
        /// <paramref name="rise"/> (see <see cref="GrammarBudget.RememberMaxRiseOf"/>); false when none is.
        /// </summary>
        public bool TryGetMaxRise(int[] rise, RiseKey outside, out int value)
        {
            var memo = Volatile.Read(ref _rises);
            if (memo is not null && ReferenceEquals(memo.Rise, rise))
            {
                foreach (var (key, max) in memo.Values)
                {
                    if (key == outside)
                    {
                        value = max;
                        return true;
                    }
                }
            }

            value = 0;
            return false;
        }

        /// <summary>
        /// Remembers a value <see cref="TryGetMaxRise"/> did not have. Racing threads may overwrite each
        /// other's values: a lost one is worked out again, never wrong. Past <see cref="MaxRiseValues"/> nothing more is kept.
        /// </summary>
        public void RememberMaxRise(int[] rise, RiseKey outside, int value)
        {
            var memo = Volatile.Read(ref _rises);
            if (memo is null || !ReferenceEquals(memo.Rise, rise))
            {
                Volatile.Write(ref _rises, new RiseMemo(rise, [(outside, value)]));
            }
            else if (memo.Values.Length < MaxRiseValues)
            {
                Volatile.Write(ref _rises, new RiseMemo(rise, [.. memo.Values, (outside, value)]));
            }
        }

        /// <summary>
        /// The largest of <paramref name="rise"/> over the tokens this entry accepts or leaves to the
        /// stack, less those in <paramref name="outside"/> (null: none), or <paramref name="none"/>;
        /// read from the entry's own form, without a mask. <paramref name="wordRise"/> holds each mask
        /// word's largest rise, so a word is read bit by bit only when it could raise the result; the
        /// reading stops at <paramref name="ceiling"/>, the largest rise of all (or above it).
        /// </summary>
        public int MaxRise(int[] rise, int[] wordRise, uint[]? outside, int none, int ceiling)
        {
            var max = _shared?.MaxRise(rise, wordRise, outside, none, ceiling) ?? none;
            foreach (var id in Uncertain)
            {
                max = Math.Max(max, Outside(id) ? none : rise[id]);
            }

            if (_accepted is not null)
            {
                foreach (var id in _accepted)
                {
                    max = Math.Max(max, Outside(id) ? none : rise[id]);
                }

                return max;
            }

            var r = 0;
            for (var w = 0; w < wordRise.Length && max < ceiling; w++)
            {
                var bits = _bits is not null ? _bits[w] : AllButRejected(w, ref r, rise.Length);
                if (outside is not null)
                {
                    bits &= ~outside[w];
                }

                for (; bits != 0 && wordRise[w] > max; bits &= bits - 1)
                {
                    max = Math.Max(max, rise[(w << 5) + System.Numerics.BitOperations.TrailingZeroCount(bits)]);
                }
            }

            return max;

            bool Outside(int id) => outside is not null && (outside[id >> 5] & (1u << (id & 31))) != 0;
        }

        private sealed record RiseMemo(int[] Rise, (RiseKey Key, int Max)[] Values);
    }

    /// <summary>
    /// Which text a remembered rise leaves out: none (<see cref="Groups"/> 0), or a string region's text
    /// (<see cref="TokenVocabulary.RegionText"/> of these groups, short tokens only when <see cref="Bounded"/>,
    /// those ending on a character boundary only when <see cref="BoundaryOnly"/>).
    /// </summary>
    internal readonly record struct RiseKey(ulong Groups, bool Bounded, bool BoundaryOnly);
}
