using System.Text;
using Flywheel.Serving.Tools;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.Tools;

/// <summary>The call schema built from tools: what its grammar and its validator accept.</summary>
public sealed class ToolCallSchemaTests
{
    // A parameters schema that refers to its own $defs: the reference must still resolve inside the call schema.
    private static readonly ToolDefinition Move = new("move", "Moves a piece", """{"$defs":{"sq":{"type":"string","pattern":"^[a-h][1-8]$"}},"type":"object","properties":{"from":{"$ref":"#/$defs/sq"},"to":{"$ref":"#/$defs/sq"}},"required":["from","to"],"additionalProperties":false}""");
    private static readonly ToolDefinition Resign = new("resign", null, ToolDefinition.NoParameters);

    public static TheoryData<string, bool, bool> Answers() => new()
    {
        { """{"name":"move","arguments":{"from":"e2","to":"e4"}}""", false, true },
        { """{"name":"resign","arguments":{}}""", false, true },
        { """{"name":"move","arguments":{"from":"e2","to":"e9"}}""", false, false },      // $ref'd pattern
        { """{"name":"resign","arguments":{"from":"e2","to":"e4"}}""", false, false },   // move's arguments under resign's name
        { """{"name":"castle","arguments":{}}""", false, false },                        // not a tool
        { """{"arguments":{},"name":"resign"}""", false, false },                        // name first
        { """[{"name":"move","arguments":{"from":"e2","to":"e4"}},{"name":"resign","arguments":{}}]""", true, true },
        { """[]""", true, false },
        { """{"name":"resign","arguments":{}}""", true, false },                         // several: always an array
    };

    [Theory]
    [MemberData(nameof(Answers))]
    public void The_grammar_and_the_validator_agree_on_calls(string answer, bool several, bool valid)
    {
        var schema = ToolCallSchema.Build([Move, Resign], several);
        var grammar = JsonSchemaGrammar.Compile(schema, new JsonSchemaCompileOptions { MaxWhitespace = 0 });
        var matcher = grammar.CreateByteMatcher();
        var accepted = matcher.TryAdvance(Encoding.UTF8.GetBytes(answer)) && matcher.IsComplete;
        Assert.Equal(valid, accepted);
        if (answer != """{"arguments":{},"name":"resign"}""") // the validator does not care about property order
        {
            Assert.Equal(valid, JsonSchemaValidator.Create(schema).Validate(answer).Count == 0);
        }
    }

    [Fact]
    public void A_named_choice_allows_only_that_function()
    {
        var allowed = ToolCallSchema.Allowed([Move, Resign], new ToolChoice(ToolChoiceMode.Named, "resign"));
        var grammar = JsonSchemaGrammar.Compile(ToolCallSchema.Build(allowed, several: false));
        Assert.False(grammar.CreateByteMatcher().TryAdvance("""{"name":"move","""u8));
        var matcher = grammar.CreateByteMatcher();
        Assert.True(matcher.TryAdvance("""{"name":"resign","arguments":{}}"""u8) && matcher.IsComplete);
    }

    [Fact]
    public void References_are_rebased_but_data_is_left_alone()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse("""{"a":{"$ref":"#"},"b":{"$ref":"#/$defs/x/items"},"c":{"const":{"$ref":"#/keep"}},"d":{"$ref":"other.json"},"e":{"$ref":"#/definitions/y"},"f":{"$ref":"#/properties/a"}}""");
        var rebased = ToolCallSchema.Rebase(node, "tool_3")!.ToJsonString();
        Assert.Equal("""{"a":{"$ref":"#/$defs/tool_3"},"b":{"$ref":"#/$defs/tool_3_x/items"},"c":{"const":{"$ref":"#/keep"}},"d":{"$ref":"other.json"},"e":{"$ref":"#/$defs/tool_3_y"},"f":{"$ref":"#/$defs/tool_3/properties/a"}}""", rebased);
    }

    [Theory]
    [InlineData("""{"name":"f","arguments":{"a":1}}""", "f", """{"a":1}""")]
    [InlineData("""[{"name":"f","arguments":{}},{"name":"g","arguments":{"b":[1,2]}}]""", "f,g", """{}|{"b":[1,2]}""")]
    public void Neutral_answers_parse_into_calls(string text, string names, string arguments)
    {
        var calls = ToolCallSchema.Parse(text)!;
        Assert.Equal(names.Split(','), calls.Select(c => c.Name));
        Assert.Equal(arguments.Split('|'), calls.Select(c => c.Arguments));
    }

    [Theory]
    [InlineData("""{"name":"f"}""")]
    [InlineData("""{"name":"f","arguments":"{}"}""")]
    [InlineData("""[]""")]
    [InlineData("""{"name":"f","arguments":{}""")]
    [InlineData("plain text")]
    public void Anything_else_is_not_a_call(string text) => Assert.Null(ToolCallSchema.Parse(text));
}
