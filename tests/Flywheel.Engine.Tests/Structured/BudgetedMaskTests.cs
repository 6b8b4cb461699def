using System.Text;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Property tests of the token budget: a chooser that works against closing (the longest allowed
/// token, or the one that opens or extends a string, never end-of-sequence while anything else is
/// allowed) still ends with a complete, valid document within every budget from the schema's
/// minimum up, and a budget below the minimum is refused naming it.
/// </summary>
public sealed class BudgetedMaskTests
{
    public static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"name":{"type":"string","minLength":3},"nick":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]}""",
        """{"type":"array","items":{"type":"string","minLength":2},"minItems":3}""",
        """{"type":"object","properties":{"color":{"enum":["red","green","blue"]},"size":{"enum":["small","medium","large"]},"note":{"type":"string","maxLength":40}},"required":["color"],"additionalProperties":false}""",
        """{"type":"object","properties":{"user":{"type":"object","properties":{"id":{"type":"integer","minimum":1},"tags":{"type":"array","items":{"type":"string"},"minItems":1}},"required":["id","tags"]},"score":{"type":"number"}},"required":["user"]}""",
        """{"type":"object","properties":{"x":{"type":"number","minimum":-5,"maximum":5},"y":{"type":"number"},"z":{"type":"integer","minimum":100}},"required":["x","y","z"],"additionalProperties":false}""",
        """{"$defs":{"node":{"type":"object","properties":{"v":{"type":"string"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},"$ref":"#/$defs/node"}""",
    ];

    private enum Chooser
    {
        Longest,
        OpensStrings,
        Random,
    }

    [Fact]
    public void Adversarial_walks_on_synthetic_vocabulary_close_within_every_budget()
    {
        var (vocab, eos) = Vocabularies.Synthetic;
        foreach (var schema in Schemas)
        {
            var grammar = JsonSchemaGrammar.Compile(schema, new JsonSchemaCompileOptions { MaxWhitespace = 4 });
            var minimum = grammar.MinimumTokens(vocab) ?? throw new InvalidOperationException("no minimum");
            for (var budget = minimum; budget <= minimum + 24; budget++)
            {
                foreach (var chooser in Enum.GetValues<Chooser>())
                {
                    AssertClosesWithin(grammar, vocab, schema, budget, chooser, new Random(budget), checkStride: budget < minimum + 3 ? 1 : 0);
                }
            }
        }
    }

    [Theory]
    [InlineData("llama3", new[] { 128001, 128009 })]
    [InlineData("qwen3", new[] { 151643, 151645 })]
    public void Adversarial_walks_on_real_vocabularies_close_within_every_budget(string name, int[] eos)
    {
        var tokenizer = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir(name), "tokenizer.json"));
        var vocab = TokenVocabulary.FromTokenizer(tokenizer, eos);
        foreach (var schema in Schemas)
        {
            var grammar = JsonSchemaGrammar.Compile(schema);
            var minimum = grammar.MinimumTokens(vocab) ?? throw new InvalidOperationException("no minimum");
            foreach (var budget in new[] { minimum, minimum + 1, minimum + 5, minimum + 17, 64 })
            {
                foreach (var chooser in Enum.GetValues<Chooser>())
                {
                    AssertClosesWithin(grammar, vocab, schema, Math.Max(budget, minimum), chooser, new Random(budget), checkStride: budget <= minimum + 5 && chooser == Chooser.Random ? 61 : 0);
                }
            }
        }
    }

    [Fact]
    public void Minimum_is_the_shortest_document_in_single_byte_tokens_and_a_smaller_budget_is_refused()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var bytes = Enumerable.Range(0, 256).Select(b => (byte[]?)[(byte)b]).Append(null).ToList();
        var byteVocab = TokenVocabulary.Create(bytes, [256]);

        // {"name":"aaa","age":0} is the shortest instance: 22 bytes.
        var grammar = JsonSchemaGrammar.Compile(Schemas[0]);
        Assert.Equal(22, grammar.MinimumTokens(byteVocab));
        Assert.Equal(22, grammar.MinimumTokens(vocab));
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => new GrammarConstraint(grammar, vocab, 21));
        Assert.Contains("needs 22 tokens", refused.Message, StringComparison.Ordinal);
        var matcher = new GrammarMatcher(grammar, vocab, 22);
        Assert.Equal(22, matcher.TokensToFinish);
        Assert.Equal(22, matcher.TokensLeft);

        // ["aa","aa","aa"]: minItems and minLength count.
        Assert.Equal(16, JsonSchemaGrammar.Compile(Schemas[1]).MinimumTokens(byteVocab));
    }

    [Fact]
    public void A_vocabulary_without_a_needed_single_byte_token_offers_no_minimum_and_ignores_the_budget()
    {
        // ']' only inside "[]": the bound counts single-byte tokens, so it cannot be built.
        var tokens = Enumerable.Range(0, 256).Select(b => b == ']' ? null : (byte[]?)[(byte)b]).Append("[]"u8.ToArray()).Append(null).ToList();
        var vocab = TokenVocabulary.Create(tokens, [257]);
        var grammar = JsonSchemaGrammar.Compile("""{"type":"array","maxItems":0}""");
        Assert.Null(grammar.MinimumTokens(vocab));
        var matcher = new GrammarMatcher(grammar, vocab, 1);
        Assert.Null(matcher.TokensLeft);
        Assert.True(matcher.TryAccept(256));
        Assert.True(matcher.IsComplete);
    }

    [Fact]
    public void Without_a_budget_nothing_changes()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var grammar = JsonSchemaGrammar.Compile(Schemas[0]);
        var plain = new GrammarMatcher(grammar, vocab);
        var roomy = new GrammarMatcher(grammar, vocab, 1_000_000);
        Assert.Null(plain.TokensLeft);
        var a = new uint[plain.MaskLength];
        var b = new uint[plain.MaskLength];
        foreach (var piece in new[] { "{\"", "name", "\":\"", "Smi", "\"," })
        {
            plain.ComputeMask(a);
            roomy.ComputeMask(b);
            Assert.Equal(a, b);
            var id = Token(vocab, piece);
            Assert.True(plain.TryAccept(id));
            Assert.True(roomy.TryAccept(id));
        }
    }

    private static int Token(TokenVocabulary vocab, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return Enumerable.Range(0, vocab.Count).First(i => vocab.BytesOf(i).SequenceEqual(bytes));
    }

    /// <summary>
    /// Walks with <paramref name="chooser"/> until end-of-sequence or the budget is spent; the document must be complete and
    /// valid. With <paramref name="checkStride"/> above 0, every that-many-th token's mask bit is compared with <see cref="GrammarMatcher.IsAllowed"/>.
    /// </summary>
    private static void AssertClosesWithin(JsonSchemaGrammar grammar, TokenVocabulary vocab, string schema, int budget, Chooser chooser, Random rng, int checkStride)
    {
        var matcher = new GrammarMatcher(grammar, vocab, budget);
        var mask = new uint[matcher.MaskLength];
        var text = new List<byte>();
        var used = 0;
        while (used < budget && !matcher.IsTerminated)
        {
            Assert.True(matcher.TokensToFinish <= matcher.TokensLeft, $"bound {matcher.TokensToFinish} above {matcher.TokensLeft} left after {Encoding.UTF8.GetString([.. text])}");
            matcher.ComputeMask(mask);
            var allowed = Allowed(mask, vocab.Count);
            Assert.True(allowed.Count > 0, $"empty mask after {Encoding.UTF8.GetString([.. text])} with {budget - used} tokens left");
            if (checkStride > 0)
            {
                // The mask keeps many tokens unread (by their rise, or as text of a string region): each must agree with reading it.
                var set = allowed.ToHashSet();
                for (var id = used % checkStride; id < vocab.Count; id += checkStride)
                {
                    Assert.True(set.Contains(id) == matcher.IsAllowed(id), $"mask and IsAllowed disagree on {id} after {Encoding.UTF8.GetString([.. text])}");
                }
            }

            var id2 = Choose(allowed, vocab, chooser, rng);
            Assert.True(matcher.TryAccept(id2));
            if (!vocab.IsEos(id2))
            {
                text.AddRange(vocab.BytesOf(id2).ToArray());
                used++;
            }
        }

        var document = Encoding.UTF8.GetString([.. text]);
        Assert.True(matcher.IsComplete, $"incomplete within {budget} tokens ({chooser}): {document}");
        var errors = JsonSchemaValidator.Create(schema).Validate(document);
        Assert.True(errors.Count == 0, $"{document} is invalid: {string.Join("; ", errors)}");
    }

    /// <summary>The worst tokens for closing: never end-of-sequence while anything else is allowed; the longest, or the longest without a closing quote or bracket.</summary>
    private static int Choose(List<int> allowed, TokenVocabulary vocab, Chooser chooser, Random rng)
    {
        var text = allowed.Where(id => !vocab.IsEos(id)).ToList();
        if (text.Count == 0)
        {
            return allowed[0];
        }

        return chooser switch
        {
            Chooser.Longest => text.MaxBy(id => vocab.BytesOf(id).Length),
            Chooser.OpensStrings => text.MaxBy(id => OpenScore(vocab.BytesOf(id))),
            _ => text[rng.Next(text.Count)],
        };
    }

    private static int OpenScore(ReadOnlySpan<byte> bytes)
    {
        var closes = bytes.IndexOfAny("}]"u8) >= 0 ? 1000 : 0;
        var opens = bytes.IndexOfAny("\"[{,"u8) >= 0 ? 100 : 0;
        return opens - closes + bytes.Length;
    }

    private static List<int> Allowed(uint[] mask, int count) =>
        Enumerable.Range(0, count).Where(id => (mask[id >> 5] & (1u << (id & 31))) != 0).ToList();
}
