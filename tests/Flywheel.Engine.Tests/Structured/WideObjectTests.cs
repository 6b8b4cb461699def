using System.Text;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Objects wide enough that the parts of their members after the key are shared as rules
/// (<see cref="GrammarBuilder.SharedMembersFrom"/> properties and more): each member still takes
/// exactly the values its own schema takes, with the whitespace the bound allows, the required ones
/// present; masks agree with token-by-token simulation; and the sharing keeps such objects small.
/// </summary>
public sealed class WideObjectTests
{
    private const string Defs = """{"n":{"type":"object","properties":{"v":{"type":"integer"}},"required":["v"]}}""";

    // Value schemas that differ in small ways (an enum value, a length) and in kind (a reference, an
    // object, an array, a union): a member may only be shared with one whose part reads the same.
    private static readonly string[] Kinds =
    [
        """{"type":"string"}""",
        """{"type":"integer"}""",
        """{"type":"string","maxLength":2}""",
        """{"enum":["x","y"]}""",
        """{"enum":["x","z"]}""",
        """{"type":"object","properties":{"a":{"type":"boolean"}},"required":["a"]}""",
        """{"$ref":"#/$defs/n"}""",
        """{"type":"array","items":{"type":"integer"}}""",
        """{"anyOf":[{"type":"null"},{"type":"number"}]}""",
        """{}""",
    ];

    private static readonly string[] Values =
    [
        "\"ab\"", "\"abc\"", "\"x\"", "\"y\"", "\"z\"", "\"\\u00e9\"", "7", "-2", "1.5", "null", "true",
        "{\"a\":true}", "{\"a\":1}", "[1,2]", "[\"a\"]", "{\"v\":1}", "{\"v\":\"1\"}", "[]",
    ];

    private static readonly JsonSchemaCompileOptions Options = new() { MaxWhitespace = 2 };

    private static int KindOf(int property) => (property * 7) % Kinds.Length;

    private static bool IsRequired(int property) => property % 9 == 4;

    private static string Schema(int count) =>
        "{\"$defs\":" + Defs + ",\"type\":\"object\",\"properties\":{"
        + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"k{i}\":{Kinds[KindOf(i)]}"))
        + "},\"required\":[" + string.Join(',', Enumerable.Range(0, count).Where(IsRequired).Select(i => $"\"k{i}\"")) + "]}";

    [Theory]
    [InlineData(GrammarBuilder.SharedMembersFrom, 1)]
    [InlineData(300, 2)]
    public void Each_member_takes_exactly_what_its_own_schema_takes(int count, int seed)
    {
        var grammar = JsonSchemaGrammar.Compile(Schema(count), Options);

        // The oracle: each value schema compiled on its own (no object around it, nothing shared).
        var oracles = Kinds.Select(k => JsonSchemaGrammar.Compile("{\"$defs\":" + Defs + (k == "{}" ? "}" : "," + k[1..]), Options)).ToArray();
        var takes = Kinds.Select((_, k) => Values.Select(v => Accepts(oracles[k], v)).ToArray()).ToArray();
        var random = new Random(seed);
        string Ws() => random.Next(3) switch { 0 => "", 1 => " ", _ => random.Next(2) == 0 ? "\n " : "\t" };
        for (var trial = 0; trial < 400; trial++)
        {
            var members = Enumerable.Range(0, count).Where(i => random.Next(4) == 0 || (IsRequired(i) && random.Next(30) > 0)).ToList();
            var values = members.Select(_ => random.Next(Values.Length)).ToList();
            var expected = Enumerable.Range(0, count).Where(IsRequired).All(members.Contains)
                && members.Select((m, j) => takes[KindOf(m)][values[j]]).All(t => t);
            var json = new StringBuilder("{").Append(Ws());
            for (var j = 0; j < members.Count; j++)
            {
                json.Append(j == 0 ? "" : "," + Ws()).Append($"\"k{members[j]}\"").Append(Ws()).Append(':').Append(Ws())
                    .Append(Values[values[j]]).Append(Ws());
            }

            Assert.True(expected == Accepts(grammar, json.Append('}').ToString()), $"{json} should be {(expected ? "accepted" : "refused")}");
        }

        // What shares the parts must not widen them: a member whose value breaks its own schema
        // is refused in every position, with everything else valid.
        var valid = Enumerable.Range(0, count).Where(IsRequired).ToList();
        string Document(int member, int value) => "{" + string.Join(',', valid.Append(member).Order().Distinct().Select(i =>
            $"\"k{i}\":" + (i == member ? Values[value] : Values[Array.FindIndex(takes[KindOf(i)], t => t)]))) + "}";
        for (var member = 0; member < count; member++)
        {
            for (var value = 0; value < Values.Length; value++)
            {
                Assert.True(takes[KindOf(member)][value] == Accepts(grammar, Document(member, value)), $"member k{member}, value {Values[value]}");
            }
        }
    }

    [Fact]
    public void Masks_of_a_wide_object_agree_with_simulation_and_walks_end_valid()
    {
        var (vocab, _) = Vocabularies.Synthetic;
        var schema = Schema(GrammarBuilder.SharedMembersFrom + 6);
        var grammar = JsonSchemaGrammar.Compile(schema, Options);
        var validator = JsonSchemaValidator.Create(schema);
        for (var walk = 0; walk < 4; walk++)
        {
            var text = TokenMaskTests.Walk(grammar, vocab, new Random(walk), checkAgainstSimulation: walk < 2);
            var errors = validator.Validate(text);
            Assert.True(errors.Count == 0, $"{text}\n{string.Join("\n", errors)}");
        }
    }

    [Fact]
    public void Members_alike_share_their_states()
    {
        // Inline, each "pN":{"type":"string"} member was 92 states (its string and four runs of
        // whitespace); shared, it is its key, the whitespace around its comma and the comma.
        var count = 2000;
        var grammar = JsonSchemaGrammar.Compile(
            "{\"type\":\"object\",\"properties\":{" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"p{i}\":{{\"type\":\"string\"}}")) + "}}");
        Assert.True(grammar.StateCount < 40 * count, $"{grammar.StateCount} states");
    }

    private static bool Accepts(JsonSchemaGrammar grammar, string json)
    {
        var matcher = grammar.CreateByteMatcher();
        return matcher.TryAdvance(Encoding.UTF8.GetBytes(json)) && matcher.IsComplete;
    }
}
