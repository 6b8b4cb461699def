using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Tokenization;

/// <summary>The per-word BPE cache stays within its count and byte bounds whatever words arrive, and never changes an encoding.</summary>
public sealed class BpeCacheBoundsTests
{
    [Fact]
    public void A_stream_of_new_words_keeps_the_cache_within_count_and_bytes()
    {
        const int maxEntries = 50;
        const long maxBytes = 4_000;
        var bounded = Model(maxEntries, maxBytes);
        var reference = Model(1_000_000, long.MaxValue);
        var rng = new Random(3);
        var maxSeenCount = 0;
        long maxSeenBytes = 0;
        for (var i = 0; i < 2_000; i++)
        {
            // Mostly new words of 1-40 letters, every tenth one of several thousand.
            var length = i % 10 == 0 ? rng.Next(1_000, 5_000) : rng.Next(1, 40);
            var word = new string(Enumerable.Range(0, length).Select(_ => (char)('a' + rng.Next(26))).ToArray());
            var ids = new List<int>();
            bounded.Encode(word, ids);
            var expected = new List<int>();
            reference.Encode(word, expected);
            Assert.Equal(expected, ids);
            maxSeenCount = Math.Max(maxSeenCount, bounded.CachedWordCount);
            maxSeenBytes = Math.Max(maxSeenBytes, bounded.CachedBytes);
        }

        Assert.InRange(maxSeenCount, 1, maxEntries);
        Assert.InRange(maxSeenBytes, 1, maxBytes);
        Assert.True(reference.CachedBytes > 10 * maxBytes, $"the stream should overflow an unbounded budget by far ({reference.CachedBytes} bytes)");
    }

    [Fact]
    public void A_repeated_word_is_served_from_the_cache()
    {
        var model = Model(10, 10_000);
        var first = new List<int>();
        model.Encode("abcabc", first);
        var bytes = model.CachedBytes;
        var again = new List<int>();
        model.Encode("abcabc", again);

        Assert.Equal(first, again);
        Assert.Equal(1, model.CachedWordCount);
        Assert.Equal(bytes, model.CachedBytes);
    }

    // Letters a-z plus a few merges, so words take the merge loop, not only single-letter lookups.
    private static BpeModel Model(int maxEntries, long maxBytes)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 'a'; c <= 'z'; c++)
        {
            vocab[c.ToString()] = vocab.Count;
        }

        var merges = new Dictionary<(int, int), (int, int)>();
        foreach (var (rank, pair) in new[] { "ab", "bc", "ca", "de" }.Index())
        {
            vocab[pair] = vocab.Count;
            merges[(vocab[pair[..1]], vocab[pair[1..]])] = (rank, vocab[pair]);
        }

        return new BpeModel(vocab, merges, ignoreMerges: false, byteFallback: false, unkId: null, maxEntries, maxBytes);
    }
}
