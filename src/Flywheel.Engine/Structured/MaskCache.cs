namespace Flywheel.Structured;

/// <summary>
/// Per (grammar, vocabulary): for each grammar state, the tokens accepted from that state whatever
/// the stack below, and the few whose fate depends on the stack (they finish the current rule and
/// go on into the caller's). Filled lazily on first visit of a state, then shared by all requests
/// using the same grammar and vocabulary. Thread-safe: entries are immutable and published with a
/// compare-exchange; a race computes an entry twice, never wrongly.
/// </summary>
internal sealed class MaskCache
{
    private readonly Entry?[] _entries;

    public MaskCache(CompiledGrammar grammar, TokenVocabulary vocabulary)
    {
        Grammar = grammar;
        Vocabulary = vocabulary;
        _entries = new Entry?[grammar.StateCount];
    }

    public CompiledGrammar Grammar { get; }

    public TokenVocabulary Vocabulary { get; }

    /// <summary>States whose entry has been computed (a warm-up measure).</summary>
    public int FilledCount => _entries.Count(e => e is not null);

    /// <summary>The entry of <paramref name="state"/>, computing it with the caller's runner and walker on a miss.</summary>
    public Entry Get(int state, PdaRunner runner, TrieWalker walker, int scratchStart)
    {
        var entry = Volatile.Read(ref _entries[state]);
        if (entry is not null)
        {
            return entry;
        }

        var accepted = new uint[Vocabulary.MaskLength];
        var uncertain = new List<int>();
        walker.Walk(runner, state, scratchStart, accepted, uncertain);
        entry = Entry.Create(accepted, Vocabulary.Count, uncertain);
        return Interlocked.CompareExchange(ref _entries[state], entry, null) ?? entry;
    }

    /// <summary>Accepted tokens in the smallest of three forms, plus the uncertain ones.</summary>
    internal sealed class Entry
    {
        private uint[]? _bits;
        private int[]? _accepted;
        private int[]? _rejected;

        public int[] Uncertain { get; private init; } = [];

        public static Entry Create(uint[] bits, int vocabSize, List<int> uncertain)
        {
            var count = 0;
            foreach (var w in bits)
            {
                count += System.Numerics.BitOperations.PopCount(w);
            }

            var entry = new Entry { Uncertain = [.. uncertain.Distinct()] };
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
                entry._bits = bits;
            }

            return entry;
        }

        private static int[] Ids(uint[] bits, int vocabSize, bool set, int count)
        {
            var ids = new int[count];
            var k = 0;
            for (var id = 0; id < vocabSize; id++)
            {
                if (((bits[id >> 5] >> (id & 31)) & 1) == (set ? 1u : 0u))
                {
                    ids[k++] = id;
                }
            }

            return ids;
        }

        /// <summary>ORs the accepted tokens into <paramref name="mask"/> (bits past the vocabulary stay clear).</summary>
        public void OrInto(Span<uint> mask, int vocabSize)
        {
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
                // Every token but the rejected ones (sorted ascending), without clearing bits
                // that another configuration already set.
                var r = 0;
                var rejected = _rejected!;
                for (var w = 0; w < mask.Length; w++)
                {
                    var rej = 0u;
                    while (r < rejected.Length && (rejected[r] >> 5) == w)
                    {
                        rej |= 1u << (rejected[r] & 31);
                        r++;
                    }

                    var valid = (w + 1) * 32 <= vocabSize ? uint.MaxValue : (1u << (vocabSize & 31)) - 1;
                    mask[w] |= valid & ~rej;
                }
            }
        }
    }
}
