namespace Flywheel.Structured;

/// <summary>The entries of <see cref="MaskCache"/>.</summary>
internal sealed partial class MaskCache
{
    /// <summary>Accepted tokens in the smallest of three forms, plus the uncertain ones.</summary>
    internal sealed partial class Entry
    {
        private uint[]? _bits;
        private int[]? _accepted;
        private int[]? _rejected;

        // An entry whose tokens this one adds to, shared with other entries: the short tokens' entry
        // of a short-token class (this one holds the long tokens), or a region's inside (this one
        // holds the tokens past the region's exits). Both hold disjoint token sets.
        private Entry? _shared;

        public int[] Uncertain { get; private init; } = [];

        /// <summary>Estimated memory held: the object and its arrays, with their headers.</summary>
        public long ByteCount { get; private set; }

        /// <summary>An entry for the tokens set in <paramref name="bits"/>, which it may keep (the caller gives it up).</summary>
        public static Entry Create(uint[] bits, int vocabSize, List<int> uncertain)
        {
            var entry = CreateUnsized(bits, vocabSize, uncertain, copyBits: false);
            entry.ByteCount = OwnBytes(entry);
            return entry;
        }

        /// <summary>An entry for the tokens set in <paramref name="bits"/> (none uncertain), which stays the caller's.</summary>
        public static Entry CreateCopy(uint[] bits, int vocabSize)
        {
            var entry = CreateUnsized(bits, vocabSize, [], copyBits: true);
            entry.ByteCount = OwnBytes(entry);
            return entry;
        }

        /// <summary>
        /// An entry for the tokens of <paramref name="shared"/> and <paramref name="accepted"/> (a
        /// disjoint set); it counts the shared entry's bytes only when that entry is not kept on its
        /// own (<paramref name="sharedKept"/>).
        /// </summary>
        public static Entry Create(Entry shared, bool sharedKept, int[] accepted, List<int> uncertain)
        {
            uncertain.AddRange(shared.Uncertain);
            var entry = new Entry { Uncertain = Distinct(uncertain), _accepted = accepted, _shared = shared };
            entry.ByteCount = OwnBytes(entry) + (sharedKept ? 0 : shared.ByteCount);
            return entry;
        }

        /// <summary>
        /// An entry for the tokens of <paramref name="shortEntry"/> (the short ones) and those of
        /// <paramref name="longBits"/> (the long ones, a disjoint set); it counts the short entry's
        /// bytes only when that entry is not kept on its own (<paramref name="shortKept"/>).
        /// </summary>
        public static Entry Create(Entry shortEntry, bool shortKept, uint[] longBits, int vocabSize, List<int> longUncertain)
        {
            longUncertain.AddRange(shortEntry.Uncertain); // the two token sets are disjoint
            var entry = CreateUnsized(longBits, vocabSize, longUncertain, copyBits: false);
            entry._shared = shortEntry;
            entry.ByteCount = OwnBytes(entry) + (shortKept ? 0 : shortEntry.ByteCount);
            return entry;
        }

        /// <summary>The object and its own arrays, with their headers (not a shared entry's).</summary>
        private static long OwnBytes(Entry entry) =>
            48 + ArrayBytes(entry._bits) + ArrayBytes(entry._accepted) + ArrayBytes(entry._rejected) + ArrayBytes(entry.Uncertain);

        private static int[] Distinct(List<int> uncertain) => uncertain.Count == 0 ? [] : [.. uncertain.Distinct()];

        private static long ArrayBytes<T>(T[]? array) where T : unmanaged =>
            array is null ? 0 : 24 + ((long)array.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());

        private static Entry CreateUnsized(uint[] bits, int vocabSize, List<int> uncertain, bool copyBits)
        {
            var count = (int)System.Numerics.Tensors.TensorPrimitives.PopCount<uint>(bits);

            var entry = new Entry { Uncertain = Distinct(uncertain) };
            var listLimit = bits.Length; // a list of ints beats the bitmask below one int per 32 tokens
            if (count <= listLimit)
            {
                entry._accepted = Ids(bits, vocabSize, set: true, count);
            }
            else if (vocabSize - count <= listLimit)
            {
                entry._rejected = Ids(bits, vocabSize, set: false, vocabSize - count);
            }
            else
            {
                entry._bits = copyBits ? (uint[])bits.Clone() : bits;
            }

            return entry;
        }

        /// <summary>
        /// The ids set in <paramref name="bits"/>, clearing it; null (bits left set) when there are
        /// more than it has words (a list would be larger than the mask).
        /// </summary>
        public static int[]? TakeIds(uint[] bits, int vocabSize)
        {
            var count = (int)System.Numerics.Tensors.TensorPrimitives.PopCount<uint>(bits);
            if (count > bits.Length)
            {
                return null;
            }

            var ids = count == 0 ? [] : Ids(bits, vocabSize, set: true, count);
            if (count > 0)
            {
                Array.Clear(bits);
            }

            return ids;
        }

        /// <summary>The ids whose bit is <paramref name="set"/>, ascending, visiting set bits only.</summary>
        private static int[] Ids(uint[] bits, int vocabSize, bool set, int count)
        {
            var ids = new int[count];
            var k = 0;
            ref var first = ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(bits);
            var skipTo = set ? bits.Length - System.Runtime.Intrinsics.Vector256<uint>.Count : 0;
            for (var w = 0; w < bits.Length; w++)
            {
                // A region's or a frontier's few hundred tokens leave most words clear: pass runs
                // of clear words a vector at a time (the last, partial word is never passed this way).
                while (w < skipTo && System.Runtime.Intrinsics.Vector256.LoadUnsafe(ref first, (nuint)w) == System.Runtime.Intrinsics.Vector256<uint>.Zero)
                {
                    w += System.Runtime.Intrinsics.Vector256<uint>.Count;
                }

                var word = set ? bits[w] : ~bits[w];
                if ((w + 1) * 32 > vocabSize)
                {
                    word &= (1u << (vocabSize & 31)) - 1; // no ids past the vocabulary
                }

                while (word != 0)
                {
                    ids[k++] = (w * 32) + System.Numerics.BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                }
            }

            return ids;
        }

        /// <summary>ORs the accepted tokens into <paramref name="mask"/> (bits past the vocabulary stay clear).</summary>
        public void OrInto(Span<uint> mask, int vocabSize)
        {
            _shared?.OrInto(mask, vocabSize);
            if (_bits is not null)
            {
                System.Numerics.Tensors.TensorPrimitives.BitwiseOr(mask, _bits, mask);
            }
            else if (_accepted is not null)
            {
                foreach (var id in _accepted)
                {
                    mask[id >> 5] |= 1u << (id & 31);
                }
            }
            else
            {
                // Every token but the rejected ones, without clearing bits that another
                // configuration already set.
                var r = 0;
                for (var w = 0; w < mask.Length; w++)
                {
                    mask[w] |= AllButRejected(w, ref r, vocabSize);
                }
            }
        }

        /// <summary>
        /// Word <paramref name="w"/> of an entry held as its rejected tokens: every token of the vocabulary
        /// but those. <paramref name="r"/> is the cursor into the rejected ids (sorted ascending), moved past
        /// the word's; words are asked for in order.
        /// </summary>
        private uint AllButRejected(int w, ref int r, int vocabSize)
        {
            var rejected = _rejected!;
            var word = (w + 1) * 32 <= vocabSize ? uint.MaxValue : (1u << (vocabSize & 31)) - 1;
            for (; r < rejected.Length && (rejected[r] >> 5) == w; r++)
            {
                word &= ~(1u << (rejected[r] & 31));
            }

            return word;
        }
    }
}
