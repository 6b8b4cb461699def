using System.Text;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The budget's mask at its edge inside strings, where it keeps or drops a string's text tokens as
/// bit sets (by the region's finish over all its states, or over those on a character boundary)
/// instead of reading them: on Llama-3's vocabulary, walks that often stop part-way through a
/// multi-byte character must get masks that agree with <see cref="GrammarMatcher.IsAllowed"/>
/// (which reads the token) on every third token, and still close valid.
/// </summary>
public sealed class BudgetEdgeTextTests
{
    public static readonly TheoryData<string> Schemas = new()
    {
        """{"type":"string"}""",
        """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","maxLength":6}},"required":["a","b"],"additionalProperties":false}""",
        """{"type":"array","items":{"anyOf":[{"type":"string","minLength":2},{"type":"object","properties":{"k":{"type":"string"}},"required":["k"]}]},"minItems":2}""",
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
