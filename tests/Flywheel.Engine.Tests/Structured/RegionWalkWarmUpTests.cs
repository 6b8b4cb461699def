using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// A new vocabulary walks the regions of a counted string's positions (<see cref="RegionWalkWarmUp"/>):
/// each position near the cap has a region of its own, the same in every grammar whose string has a
/// cap, so a later grammar's <c>maxLength</c> string finds them walked, whatever its cap.
/// </summary>
public sealed class RegionWalkWarmUpTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    [InlineData(40)]
    public void Every_position_of_a_counted_string_finds_its_region_walked(int cap)
    {
        var warm = Vocabularies.Synthetic.Vocab;
        var cold = Vocabularies.Cold(warm);
        var grammar = JsonSchemaGrammar.Compile($$"""{"type":"string","maxLength":{{cap}}}""").Compiled;
        var region = new TrieWalker(warm.Trie).Region;
        var (shared, walked, walkedCold) = (0, 0, 0);
        for (var state = 0; state < grammar.StateCount; state++)
        {
            if (region.TryBuild(grammar, state, out var key))
            {
                shared++;
                walked += warm.Regions.TryGet(key, out _) ? 1 : 0;
                walkedCold += cold.Regions.TryGet(key, out _) ? 1 : 0;
            }
        }

        Assert.True(shared > cap, $"{shared} states with a shared region");
        Assert.Equal(0, walkedCold);
        Assert.Equal(shared, walked);
    }
}
