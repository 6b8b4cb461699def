using System.Text;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Automata the builder now makes directly, without an NFA made deterministic: each must be, state
/// for state and in the same numbering, the automaton the subset construction gives for the same
/// language, since every later step (and the compiled grammar) depends on that numbering.
/// </summary>
public sealed class DirectAutomataTests
{
    [Fact]
    public void Literal_trie_is_the_determinized_automaton_of_its_texts()
    {
        // Texts over a few bytes and characters of two and three bytes: shared prefixes, one text
        // the prefix of another, copies of one text, the empty text, and no text at all.
        string[] pieces = ["a", "b", "ab", "é", "ü", "€", "\""];
        var rng = new Random(7);
        for (var trial = 0; trial < 300; trial++)
        {
            var texts = new List<string>();
            for (var n = rng.Next(0, 8); n > 0; n--)
            {
                var text = new StringBuilder();
                for (var len = rng.Next(0, 5); len > 0; len--)
                {
                    text.Append(pieces[rng.Next(pieces.Length)]);
                }

                texts.Add(text.ToString());
                if (rng.Next(4) == 0)
                {
                    texts.Add(text.ToString());
                }
            }

            var name = $"[{string.Join(", ", texts)}]";
            Automata.AssertSame(Determinized(texts), StringAutomata.Literals(texts), name);

            // Any text but these: the product of AnyText and the trie, and as many states charged.
            var productBudget = Automata.Unlimited();
            var product = ByteDfa.Subtract(StringAutomata.AnyText, StringAutomata.Literals(texts, productBudget), productBudget);
            var directBudget = Automata.Unlimited();
            Automata.AssertSame(product, StringAutomata.TextExcept(texts, directBudget), name);
            Assert.Equal(productBudget.StateCount, directBudget.StateCount);
        }
    }

    [Fact]
    public void Text_except_names_rejects_exactly_the_names()
    {
        var except = StringAutomata.TextExcept(["name", "names", "né", ""]);
        foreach (var text in new[] { "name", "names", "né", "" })
        {
            Assert.False(except.Matches(Encoding.UTF8.GetBytes(text)), text);
        }

        foreach (var text in new[] { "na", "nam", "namesx", "née", "x", "€" })
        {
            Assert.True(except.Matches(Encoding.UTF8.GetBytes(text)), text);
        }

        Assert.False(except.Matches([0x6E, 0xC3])); // a character cut short is no text
    }

    [Fact]
    public void Literal_trie_accepts_exactly_its_texts()
    {
        var texts = new[] { "name", "names", "nam", "né", "" };
        var trie = StringAutomata.Literals(texts);
        foreach (var text in texts)
        {
            Assert.True(trie.Matches(Encoding.UTF8.GetBytes(text)), text);
        }

        foreach (var text in new[] { "na", "namesx", "n", "n\u00C3", "x" })
        {
            Assert.False(trie.Matches(Encoding.UTF8.GetBytes(text)), text);
        }
    }

    private static ByteDfa Determinized(IEnumerable<string> texts)
    {
        var nfa = new ByteNfa();
        var start = nfa.AddState();
        var end = nfa.AddState();
        foreach (var t in texts)
        {
            nfa.AddEps(nfa.Literal(start, Encoding.UTF8.GetBytes(t)), end);
        }

        return ByteDfa.FromNfa(nfa, start, end).Trim();
    }
}
