using System.Text;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The three whitespace settings of the grammar: none at all (compact JSON), runs up to the default
/// bound (pretty-printing), and unbounded runs; and that the token budget still closes a document when
/// whitespace is unbounded.
/// </summary>
public sealed class WhitespaceBoundTests
{
    private const string Order = """
        {"type":"object","properties":{
           "drink":{"enum":["latte","mocha","espresso"]},
           "size":{"enum":["small","large"]},
           "shots":{"type":"integer","minimum":1,"maximum":4}},
         "required":["drink","size","shots"],"additionalProperties":false}
        """;

    private const string CompactOrder = """{"drink":"latte","size":"large","shots":2}""";

    private static bool Accepts(JsonSchemaGrammar grammar, string text) => GrammarKeywordTests.Accepts(grammar, text);

    private static JsonSchemaGrammar Compile(int maxWhitespace) =>
        JsonSchemaGrammar.Compile(Order, new JsonSchemaCompileOptions { MaxWhitespace = maxWhitespace });

    [Fact]
    public void Compact_accepts_exactly_the_compact_serialization()
    {
        var g = Compile(0);
        Assert.True(Accepts(g, CompactOrder));

        // One whitespace character anywhere is refused: between tokens by the mode, inside a key or enum value by the schema.
        foreach (var ws in new[] { " ", "\t", "\n", "\r" })
        {
            for (var i = 0; i <= CompactOrder.Length; i++)
            {
                var text = CompactOrder.Insert(i, ws);
                Assert.False(Accepts(g, text), $"compact grammar accepted {JsonSerializer.Serialize(text)}");
            }
        }

        var any = JsonSchemaGrammar.AnyJsonObject(new JsonSchemaCompileOptions { MaxWhitespace = 0 });
        Assert.True(Accepts(any, """{"a":[1,{"b":null}],"c":"x y"}"""));
        Assert.False(Accepts(any, """{"a":[1, {"b":null}]}"""));
    }

    [Fact]
    public void The_default_bound_admits_indented_output_and_refuses_a_longer_run()
    {
        var g = JsonSchemaGrammar.Compile(Order);
        var bound = new JsonSchemaCompileOptions().MaxWhitespace;
        Assert.Equal(JsonSchemaCompileOptions.DefaultMaxWhitespace, bound);

        using var doc = JsonDocument.Parse(CompactOrder);
        var indented = JsonSerializer.Serialize(doc.RootElement, new JsonSerializerOptions { WriteIndented = true });
        Assert.True(Accepts(g, indented), indented);
        Assert.True(Accepts(g, indented.Replace("\n", "\r\n", StringComparison.Ordinal)));
        Assert.True(Accepts(g, CompactOrder));

        var atBound = "{" + new string(' ', bound) + CompactOrder[1..];
        var overBound = "{" + new string(' ', bound + 1) + CompactOrder[1..];
        Assert.True(Accepts(g, atBound));
        Assert.False(Accepts(g, overBound));
        Assert.False(Accepts(g, "{" + new string('\n', bound + 1) + CompactOrder[1..]));
    }

    [Fact]
    public void Unbounded_accepts_long_runs_anywhere_between_tokens()
    {
        var g = Compile(JsonSchemaCompileOptions.UnboundedWhitespace);
        var run = string.Concat(Enumerable.Repeat(" \t\r\n", 250));
        var spaced = $"{{{run}\"drink\"{run}:{run}\"mocha\"{run},\"size\":{run}\"small\",{run}\"shots\"{run}:{run}4{run}}}";
        Assert.True(Accepts(g, spaced));
        Assert.True(Accepts(g, CompactOrder));
        Assert.False(Accepts(g, " " + CompactOrder)); // still none before or after the top-level value
        Assert.False(Accepts(g, CompactOrder + " "));
        Assert.False(Accepts(g, """{"drink":"latte","size":"large","shots":5}"""));

        var any = JsonSchemaGrammar.AnyJsonObject(new JsonSchemaCompileOptions { MaxWhitespace = JsonSchemaCompileOptions.UnboundedWhitespace });
        Assert.True(Accepts(any, "{" + run + "\"a\":[" + run + "1]}"));
    }

    [Fact]
    public void A_bound_below_unbounded_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Compile(-2));
    }

    [Fact]
    public void Under_unbounded_whitespace_a_budgeted_walk_that_prefers_whitespace_still_closes()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var g = Compile(JsonSchemaCompileOptions.UnboundedWhitespace);
        var minimum = g.MinimumTokens(vocab) ?? throw new InvalidOperationException("no minimum");
        Assert.Equal(Compile(0).MinimumTokens(vocab), minimum); // whitespace is never needed

        foreach (var budget in new[] { minimum, minimum + 3, minimum + 40 })
        {
            var matcher = new GrammarMatcher(g, vocab, budget);
            var mask = new uint[matcher.MaskLength];
            var text = new StringBuilder();
            var used = 0;
            while (used < budget && !matcher.IsTerminated)
            {
                matcher.ComputeMask(mask);
                var allowed = Enumerable.Range(0, vocab.Count).Where(id => (mask[id >> 5] & (1u << (id & 31))) != 0).ToList();
                Assert.NotEmpty(allowed);

                // The worst model: whitespace whenever the grammar lets it, else the first non-end token.
                var id = allowed.FirstOrDefault(t => !vocab.IsEos(t) && vocab.BytesOf(t).Length > 0 && IsWhitespace(vocab.BytesOf(t)), -1);
                id = id >= 0 ? id : allowed.FirstOrDefault(t => !vocab.IsEos(t), allowed[0]);
                Assert.True(matcher.TryAccept(id));
                if (!vocab.IsEos(id))
                {
                    text.Append(Encoding.UTF8.GetString(vocab.BytesOf(id)));
                    used++;
                }
            }

            Assert.True(matcher.IsComplete, $"incomplete within {budget} tokens: {JsonSerializer.Serialize(text.ToString())}");
            Assert.Empty(JsonSchemaValidator.Create(Order).Validate(text.ToString()));
            Assert.True(budget == minimum || text.ToString().Any(char.IsWhiteSpace), "the walk never met whitespace: the test proves nothing");
        }
    }

    private static bool IsWhitespace(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r'))
            {
                return false;
            }
        }

        return true;
    }
}
