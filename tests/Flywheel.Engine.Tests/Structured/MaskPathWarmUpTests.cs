using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// A vocabulary runs its mask paths once when created (<see cref="MaskPathWarmUp"/>): what that leaves
/// behind (region walks, the budget's text sets) must not change a mask, the budget's tight ones included.
/// </summary>
public sealed class MaskPathWarmUpTests
{
    private static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"mail":{"type":"string","format":"email"}},"required":["name","mail"]}""",
        """{"type":"array","items":{"type":"string","pattern":"^[a-z]+[0-9]?$"},"minItems":1}""",
        """{"type":"object","properties":{"n":{"type":"integer","minimum":3},"s":{"type":"string"},"d":{"type":"string","format":"date"}},"required":["n","s","d"]}""",
    ];

    [Fact]
    public void Warmed_vocabulary_gives_the_budget_masks_of_a_cold_one()
    {
        var warm = Vocabularies.Synthetic.Vocab;
        var cold = Vocabularies.Cold(warm);
        Assert.True(warm.ShortRegions.Count + warm.Regions.Count > cold.ShortRegions.Count + cold.Regions.Count, "creation runs the mask paths");
        var tight = 0;
        foreach (var schema in Schemas)
        {
            var grammar = JsonSchemaGrammar.Compile(schema);
            var budget = grammar.MinimumTokens(warm)!.Value + 6;
            var (warmMatcher, coldMatcher) = (new GrammarMatcher(grammar, warm, budget), new GrammarMatcher(grammar, cold, budget));
            var (warmMask, coldMask) = (new uint[warm.MaskLength], new uint[cold.MaskLength]);
            var rng = new Random(5);
            for (var step = 0; !coldMatcher.IsTerminated; step++)
            {
                coldMatcher.ComputeMask(coldMask);
                warmMatcher.ComputeMask(warmMask);
                Assert.Equal(coldMask, warmMask);
                var allowed = Enumerable.Range(0, cold.Count).Where(t => (coldMask[t >> 5] & (1u << (t & 31))) != 0).ToList();
                var token = allowed[rng.Next(allowed.Count)];
                tight += step >= budget - 8 ? 1 : 0;
                Assert.True(coldMatcher.TryAccept(token));
                Assert.True(warmMatcher.TryAccept(token));
            }
        }

        Assert.True(tight > 0, "the documents reach the budget's edge");
    }
}
