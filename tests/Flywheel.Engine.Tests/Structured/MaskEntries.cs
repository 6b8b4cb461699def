using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>Mask-cache entries in a form tests compare: the accepted tokens' mask words and the uncertain tokens in order.</summary>
internal static class MaskEntries
{
    public static string Describe(MaskCache.Entry entry, TokenVocabulary vocab)
    {
        var mask = new uint[vocab.MaskLength];
        entry.OrInto(mask, vocab.Count);
        return string.Join(',', mask) + "|" + string.Join(',', entry.Uncertain.Order());
    }

    /// <summary>
    /// Gets each of <paramref name="states"/>' entries from <paramref name="expected"/> and then from each of
    /// <paramref name="others"/> (caches of one grammar that share differently), in that order; all must be
    /// equal, and every walk must leave the runner's node pool as it found it.
    /// </summary>
    public static void AssertAgree(TokenVocabulary vocab, IEnumerable<int> states, MaskCache expected, params MaskCache[] others)
    {
        var runner = new PdaRunner(expected.Grammar);
        var walker = new TrieWalker(vocab.Trie);
        foreach (var state in states)
        {
            var described = Describe(expected.Get(state, runner, walker, 0), vocab);
            foreach (var other in others)
            {
                Assert.Equal(described, Describe(other.Get(state, runner, walker, 0), vocab));
            }

            Assert.Equal(2, runner.NodeCount); // the walks leave the node pool as they found it
        }
    }
}
