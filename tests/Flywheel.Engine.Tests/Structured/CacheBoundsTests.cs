using System.Runtime.CompilerServices;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The grammar's per-state caches stay within their count and byte bounds whatever grammars arrive,
/// and a bound never changes a mask: an entry not kept (or taken back) is walked again to the same result.
/// </summary>
public sealed class CacheBoundsTests
{
    [Fact]
    public void Mask_caches_of_many_grammars_share_one_entry_bound()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var budget = new MaskCacheBudget(maxEntries: 12, maxBytes: long.MaxValue);
        var visited = VisitEveryState(vocab, budget, b => Assert.InRange(b.EntryCount, 0, 12));

        Assert.True(visited > 3 * 12, $"the grammars have {visited} states: enough to overflow the bound several times");
        Assert.InRange(budget.EntryCount, 1, 12);
    }

    [Fact]
    public void Mask_caches_of_many_grammars_share_one_byte_bound()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        const long maxBytes = 4_000;
        var budget = new MaskCacheBudget(maxEntries: int.MaxValue, maxBytes: maxBytes);
        VisitEveryState(vocab, budget, b => Assert.InRange(b.ByteCount, 0, maxBytes));

        Assert.InRange(budget.ByteCount, 1, maxBytes);
    }

    [Fact]
    public void Room_held_by_an_older_grammar_goes_to_a_new_one()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var budget = new MaskCacheBudget(maxEntries: 8, maxBytes: long.MaxValue);
        FillAndDrop(vocab, budget);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        var grammar = JsonSchemaGrammar.Compile(TokenMaskTests.Schemas[1]).Compiled;
        var cache = new MaskCache(grammar, vocab, budget: budget);
        var (runner, walker) = (new PdaRunner(grammar), new TrieWalker(vocab.Trie));
        for (var state = 0; state < Math.Min(8, grammar.StateCount); state++)
        {
            cache.Get(state, runner, walker, 0);
        }

        Assert.Equal(Math.Min(8, grammar.StateCount), cache.FilledCount);
        Assert.Equal(cache.FilledCount, budget.EntryCount);
    }

    [Fact]
    public void Region_cache_keeps_within_its_count_and_byte_bounds()
    {
        var byCount = new RegionWalkCache(maxEntries: 10, maxBytes: long.MaxValue);
        var byBytes = new RegionWalkCache(maxEntries: int.MaxValue, maxBytes: 5_000);
        for (var i = 0; i < 200; i++)
        {
            var key = new RegionKey([i, i + 1, i + 2]);
            var walk = new RegionWalkCache.Walk(MaskCache.Entry.Create(new uint[8], 256, [i]), new int[i % 17], new int[i % 17]);
            Assert.Same(walk, byCount.Add(key, walk));
            byBytes.Add(key, walk);
            Assert.InRange(byCount.Count, 0, 10);
            Assert.InRange(byBytes.ByteCount, 0, 5_000);
        }

        Assert.Equal(10, byCount.Count);
        Assert.True(byBytes.Count is > 1 and < 200, $"{byBytes.Count} kept");
        Assert.True(byBytes.TryGet(new RegionKey([0, 1, 2]), out _));
        Assert.False(byBytes.TryGet(new RegionKey([199, 200, 201]), out _));
    }

    // Every state of several grammars through bounded caches sharing one budget, interleaved, each
    // entry compared with an unbounded cache's; checks the bound after every step.
    private static int VisitEveryState(TokenVocabulary vocab, MaskCacheBudget budget, Action<MaskCacheBudget> checkBound)
    {
        var grammars = TokenMaskTests.Schemas.Take(4).Select(s => JsonSchemaGrammar.Compile(s).Compiled).ToList();
        var bounded = grammars.Select(g => new MaskCache(g, vocab, budget: budget)).ToList();
        var reference = grammars.Select(g => new MaskCache(g, vocab, budget: new MaskCacheBudget(int.MaxValue, long.MaxValue))).ToList();
        var runners = grammars.Select(g => (new PdaRunner(g), new TrieWalker(vocab.Trie))).ToList();
        var visited = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            for (var state = 0; state < grammars.Max(g => g.StateCount); state++)
            {
                for (var g = 0; g < grammars.Count; g++)
                {
                    if (state >= grammars[g].StateCount)
                    {
                        continue;
                    }

                    var (runner, walker) = runners[g];
                    var expected = MaskEntries.Describe(reference[g].Get(state, runner, walker, 0), vocab);
                    Assert.Equal(expected, MaskEntries.Describe(bounded[g].Get(state, runner, walker, 0), vocab));
                    checkBound(budget);
                    visited++;
                }
            }
        }

        // The budget's count is exact: it holds what the caches hold.
        Assert.Equal(bounded.Sum(c => c.FilledCount), budget.EntryCount);
        return visited / 2;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FillAndDrop(TokenVocabulary vocab, MaskCacheBudget budget)
    {
        var grammar = JsonSchemaGrammar.Compile(TokenMaskTests.Schemas[0]).Compiled;
        var cache = new MaskCache(grammar, vocab, budget: budget);
        var (runner, walker) = (new PdaRunner(grammar), new TrieWalker(vocab.Trie));
        for (var state = 0; state < grammar.StateCount; state++)
        {
            cache.Get(state, runner, walker, 0);
        }

        Assert.Equal(8, budget.EntryCount);
    }
}
