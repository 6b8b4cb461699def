namespace Flywheel.Structured;

/// <summary>
/// Fills a new vocabulary's <see cref="RegionWalkCache"/> with the region walks that almost every JSON
/// grammar meets: the inside of a string (with and without constraints' short-escape form), the
/// start of a value after whitespace, numbers, literals, the whitespace and punctuation around
/// object members and array items, and the positions of a string near its <c>maxLength</c>. The
/// first visit of such a region walks the whole token trie (a string's inside accepts nearly every
/// token), which otherwise lands on the first request of every schema shape; done here it is paid
/// once per vocabulary, and it also runs the walk code before any request does. Walks are the same whichever grammar computes them (see
/// <see cref="StacklessRegion"/>), so warming changes no mask, only when the work happens.
/// </summary>
internal static class RegionWalkWarmUp
{
    /// <summary>Schemas whose regions recur in most others: any object, and typed members of every scalar kind.</summary>
    private static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"s":{"type":"string"},"i":{"type":"integer"},"n":{"type":"number"},"b":{"type":"boolean"},"a":{"type":"array","items":{"type":"string"}},"o":{"type":"object"}},"required":["s"]}""",
        """{"type":"array","items":{"type":"integer"}}""",
        """{"type":"array","items":{"type":"number"}}""",
        """{"type":"string","minLength":1}""",
    ];

    /// <summary>
    /// A string with a cap further away than the longest token. Each of its positions within that
    /// distance of the cap has a region of its own (one character fewer each), and the same one in
    /// every grammar whose string reads the same characters up to a cap: every <c>maxLength</c> meets
    /// them, one new position at each step of the answer. A vocabulary with tokens longer than
    /// <see cref="MaxCountedWarmUp"/> bytes has the positions past that walked by the requests that meet them.
    /// </summary>
    private static string CountedString(TokenVocabulary vocabulary) =>
        $$"""{"type":"string","maxLength":{{Math.Min(vocabulary.Trie.MaxDepth, MaxCountedWarmUp) + 1}}}""";

    /// <summary>The farthest distance from the cap whose positions <see cref="CountedString"/> walks (startup stays short).</summary>
    private const int MaxCountedWarmUp = 512;

    /// <summary>Walks the states of the warm-up grammars whose region is small enough to share on <paramref name="vocabulary"/>, filling its region cache.</summary>
    public static void Run(TokenVocabulary vocabulary)
    {
        var grammars = Schemas.Append(CountedString(vocabulary)).Select(s => JsonSchemaGrammar.Compile(s).Compiled).Prepend(JsonSchemaGrammar.AnyJsonObject().Compiled);
        foreach (var grammar in grammars)
        {
            // Only the region walks are wanted; the warm-up grammars' own entries are not kept
            // (a budget of one byte holds none), so they take nothing from the vocabulary's budget.
            var cache = new MaskCache(grammar, vocabulary, budget: new MaskCacheBudget(maxEntries: 1, maxBytes: 1), shareClasses: false);
            var runner = new PdaRunner(grammar);
            var walker = new TrieWalker(vocabulary.Trie);
            for (var state = 0; state < grammar.StateCount; state++)
            {
                // A region too large to share is walked anew by every grammar that meets it: not here.
                if (walker.Region.TryBuild(grammar, state, out _))
                {
                    cache.Get(state, runner, walker, 0);
                }
            }
        }
    }
}
