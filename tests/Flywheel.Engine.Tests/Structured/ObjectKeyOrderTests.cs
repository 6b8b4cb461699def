using System.Text;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The members of an object with declared properties: declared order, each at most once, the required
/// ones present, other members (when allowed) after them. Keys that are prefixes of one another, share
/// bytes, need escapes or run to several UTF-8 bytes, under random required/optional mixes, checked
/// against that rule for random member lists (in order, shuffled, repeated, with an extra member).
/// </summary>
public sealed class ObjectKeyOrderTests
{
    private static readonly string[] Keys = ["ab", "a", "abc", "b", "ba", "é", "q\"", "a b", "abd"];

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    [InlineData(5, false)]
    public void Grammar_accepts_exactly_the_members_in_declared_order_with_the_required_ones(int seed, bool additional)
    {
        var random = new Random(seed);
        var required = Keys.Select(_ => random.Next(3) == 0).ToArray();
        var schema = new Dictionary<string, object>
        {
            ["type"] = "object",
            ["properties"] = Keys.ToDictionary(k => k, _ => (object)new Dictionary<string, object> { ["type"] = "integer" }),
            ["required"] = Keys.Where((_, i) => required[i]).ToArray(),
            ["additionalProperties"] = additional,
        };
        var grammar = JsonSchemaGrammar.Compile(JsonSerializer.Serialize(schema));
        for (var trial = 0; trial < 300; trial++)
        {
            var members = Enumerable.Range(0, Keys.Length).Where(_ => random.Next(2) == 0).ToList();
            switch (random.Next(4))
            {
                case 0:
                    members = [.. members.OrderBy(_ => random.Next())];
                    break;
                case 1 when members.Count > 0:
                    members.Insert(random.Next(members.Count + 1), members[random.Next(members.Count)]);
                    break;
            }

            var extraAt = random.Next(3) == 0 ? random.Next(members.Count + 1) : -1;
            var names = members.Select(i => Keys[i]).ToList();
            if (extraAt >= 0)
            {
                names.Insert(extraAt, "zz");
            }

            var inOrder = members.Zip(members.Skip(1)).All(p => p.First < p.Second);
            var expected = inOrder && Enumerable.Range(0, Keys.Length).All(i => !required[i] || members.Contains(i))
                && (extraAt < 0 || (additional && extraAt == members.Count));
            var json = "{" + string.Join(",", names.Select(n => JsonSerializer.Serialize(n, Relaxed) + ":1")) + "}";
            Assert.True(expected == Accepts(grammar, json), $"required [{string.Join(",", required)}], additional {additional}: {json} should be {(expected ? "accepted" : "refused")}");
        }
    }

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static bool Accepts(JsonSchemaGrammar grammar, string json)
    {
        var matcher = grammar.CreateByteMatcher();
        return matcher.TryAdvance(Encoding.UTF8.GetBytes(json)) && matcher.IsComplete;
    }
}
