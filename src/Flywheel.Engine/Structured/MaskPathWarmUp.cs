using System.Numerics;

namespace Flywheel.Structured;

/// <summary>
/// Runs a new vocabulary's mask paths once, after <see cref="RegionWalkWarmUp"/>: a few short
/// documents of a warm-up schema under a token budget, so that the code of every kind of mask (the
/// split walk of a long counted string, formats and patterns, the budget's tight masks) is compiled,
/// and the vocabulary's one-time sets (its tokens in trie order, the text sets of the budget's regions)
/// are made, before the first request rather than in its masks. Nothing here changes a mask: the
/// grammar, its cache and matcher are dropped, and what stays (region walks, text sets) is the same
/// whichever grammar first asks for it.
/// </summary>
internal static class MaskPathWarmUp
{
    /// <summary>Members of every kind a JSON schema commonly has, with lengths, formats and a pattern.</summary>
    private const string Schema = """
        {"type":"object","properties":{
          "name":{"type":"string","maxLength":40},"note":{"type":"string","maxLength":300},
          "email":{"type":"string","format":"email"},"id":{"type":"string","format":"uuid"},
          "at":{"type":"string","format":"date-time"},"code":{"type":"string","pattern":"^[A-Z]{2}[0-9]{3}$"},
          "kind":{"enum":["alpha","beta"]},"count":{"type":"integer","minimum":1,"maximum":100},
          "score":{"type":"number"},"ok":{"type":"boolean"},
          "tags":{"type":"array","items":{"type":"string","minLength":1},"maxItems":4},
          "extra":{"type":"object","additionalProperties":{"type":"string"}}},
         "required":["name","email","count","tags"]}
        """;

    /// <summary>Token budgets of the documents past the schema's shortest document: each ends in the budget's tight masks.</summary>
    private static readonly int[] Slack = [4, 24, 64];

    /// <summary>Generates the warm-up documents on <paramref name="vocabulary"/>, choosing allowed tokens by a fixed seed.</summary>
    public static void Run(TokenVocabulary vocabulary)
    {
        var grammar = JsonSchemaGrammar.Compile(Schema);
        var minimum = grammar.MinimumTokens(vocabulary) ?? 0; // null: the vocabulary cannot bound it, no budget is kept
        var rng = new Random(17);
        var mask = new uint[vocabulary.MaskLength];
        foreach (var slack in Slack)
        {
            var budget = minimum + slack;
            var matcher = new GrammarMatcher(grammar, vocabulary, budget);
            for (var step = 0; step <= budget && !matcher.IsTerminated; step++)
            {
                matcher.ComputeMask(mask);
                if (PickAllowed(mask, rng) is not { } token || !matcher.TryAccept(token))
                {
                    break;
                }
            }
        }
    }

    /// <summary>A uniformly chosen set bit of <paramref name="mask"/>, or null when none is set.</summary>
    private static int? PickAllowed(uint[] mask, Random rng)
    {
        var count = (int)System.Numerics.Tensors.TensorPrimitives.PopCount<uint>(mask);
        if (count == 0)
        {
            return null;
        }

        var k = rng.Next(count);
        for (var w = 0; ; w++)
        {
            var n = BitOperations.PopCount(mask[w]);
            if (k < n)
            {
                var bits = mask[w];
                for (; k > 0; k--)
                {
                    bits &= bits - 1;
                }

                return (w << 5) + BitOperations.TrailingZeroCount(bits);
            }

            k -= n;
        }
    }
}
