using System.Text;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The budget's mask at its edge inside strings, where it keeps or drops a string's text tokens as
/// bit sets (by the region's finish over all its states, or over those on a character boundary)
/// instead of reading them: on Llama-3's vocabulary, walks that often stop part-way through a
/// multi-byte character must get masks that agree with <see cref="GrammarMatcher.IsAllowed"/>
/// (which reads the token) on every third token, and still close valid. The pattern strings read no
/// escapes, so near the edge only their text and the closing quote are read: there the mask's tight
/// test (per configuration, with the region's text bounded by its finish and the rest by its rise)
/// decides alone whether their text is checked at all.
/// </summary>
public sealed class BudgetEdgeTextTests
{
    public static readonly TheoryData<string> Schemas = new()
    {
        """{"type":"string"}""",
        """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","maxLength":6}},"required":["a","b"],"additionalProperties":false}""",
        """{"type":"array","items":{"anyOf":[{"type":"string","minLength":2},{"type":"object","properties":{"k":{"type":"string"}},"required":["k"]}]},"minItems":2}""",
        """{"type":"string","pattern":"^[a-z]+$"}""",
        """{"type":"object","properties":{"id":{"type":"string","pattern":"^[a-z0-9]{3,}$"},"n":{"type":"integer"}},"required":["id","n"]}""",
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void Masks_at_the_budget_edge_inside_strings_agree_with_reading_each_token(string schema)
    {
        var tokenizer = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir("llama3"), "tokenizer.json"));
        var vocab = TokenVocabulary.FromTokenizer(tokenizer, [128001, 128009]);
        var grammar = JsonSchemaGrammar.Compile(schema);
        var minimum = grammar.MinimumTokens(vocab) ?? throw new InvalidOperationException("no minimum");
        foreach (var budget in new[] { minimum + 2, minimum + 4 })
        {
            var rng = new Random(budget);
            var matcher = new GrammarMatcher(grammar, vocab, budget);
            var mask = new uint[matcher.MaskLength];
            var text = new List<byte>();
            while (!matcher.IsTerminated)
            {
                matcher.ComputeMask(mask);
                var allowed = Enumerable.Range(0, vocab.Count).Where(id => (mask[id >> 5] & (1u << (id & 31))) != 0).ToList();
                Assert.NotEmpty(allowed);
                for (var id = text.Count % 3; id < vocab.Count; id += 3)
                {
                    var inMask = (mask[id >> 5] & (1u << (id & 31))) != 0;
                    Assert.True(inMask == matcher.IsAllowed(id), $"mask and IsAllowed disagree on {id} with {matcher.TokensLeft} left after {Encoding.UTF8.GetString([.. text])}");
                }

                var id2 = Choose(allowed, vocab, rng);
                Assert.True(matcher.TryAccept(id2));
                if (!vocab.IsEos(id2))
                {
                    text.AddRange(vocab.BytesOf(id2).ToArray());
                }
            }

            var document = Encoding.UTF8.GetString([.. text]);
            Assert.Empty(JsonSchemaValidator.Create(schema).Validate(document));
        }
    }

    /// <summary>
    /// Inside an item of an array that must contain "Python", after <c>["P</c> two configurations read
    /// on: a plain string (whose text cannot fit in the tokens left: "Python" must still follow) and the
    /// constant (which reads only "ython"). The string's text is dropped without reading it, but not
    /// the tokens the constant reads: the mask agrees with reading every token, and keeps "ython".
    /// </summary>
    [Fact]
    public void Beside_a_constant_a_string_that_cannot_fit_drops_its_text_but_not_the_constants_tokens()
    {
        const string schema = """{"type":"array","items":{"type":"string"},"contains":{"const":"Python"}}""";
        var tokenizer = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir("llama3"), "tokenizer.json"));
        var vocab = TokenVocabulary.FromTokenizer(tokenizer, [128001, 128009]);
        var grammar = JsonSchemaGrammar.Compile(schema);
        var minimum = grammar.MinimumTokens(vocab) ?? throw new InvalidOperationException("no minimum");
        var matcher = new GrammarMatcher(grammar, vocab, minimum);
        foreach (var piece in new[] { "[", "\"", "P" })
        {
            Assert.True(matcher.TryAccept(SingleToken(tokenizer, piece)), piece);
        }

        var mask = new uint[matcher.MaskLength];
        matcher.ComputeMask(mask);
        for (var id = 0; id < vocab.Count; id++)
        {
            var inMask = (mask[id >> 5] & (1u << (id & 31))) != 0;
            Assert.True(inMask == matcher.IsAllowed(id), $"mask and IsAllowed disagree on {id} ({Encoding.UTF8.GetString(vocab.BytesOf(id))})");
        }

        var ython = SingleToken(tokenizer, "ython");
        Assert.True((mask[ython >> 5] & (1u << (ython & 31))) != 0, "the constant's next token is kept");
        Assert.False(matcher.IsAllowed(SingleToken(tokenizer, "x")), "plain text does not fit");
    }

    private static int SingleToken(Tokenizer tokenizer, string text)
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: false);
        Assert.Single(ids);
        return ids[0];
    }

    /// <summary>Half the time a token that ends part-way through a character (when one is allowed), else any token but end-of-sequence.</summary>
    private static int Choose(List<int> allowed, TokenVocabulary vocab, Random rng)
    {
        var text = allowed.Where(id => !vocab.IsEos(id)).ToList();
        if (text.Count == 0)
        {
            return allowed[0];
        }

        var partial = text.Where(id => !EndsOnCharacter(vocab.BytesOf(id))).ToList();
        return partial.Count > 0 && rng.Next(2) == 0 ? partial[rng.Next(partial.Count)] : text[rng.Next(text.Count)];
    }

    private static bool EndsOnCharacter(ReadOnlySpan<byte> bytes)
    {
        var i = bytes.Length - 1;
        while (i >= 0 && (bytes[i] & 0xC0) == 0x80)
        {
            i--;
        }

        if (i < 0)
        {
            return false;
        }

        var need = bytes[i] < 0x80 ? 1 : bytes[i] >= 0xF0 ? 4 : bytes[i] >= 0xE0 ? 3 : 2;
        return bytes.Length - i == need;
    }
}
