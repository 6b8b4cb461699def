using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Flywheel.Serving.Tools;

namespace Flywheel.Server.Tests.OpenAi;

/// <summary>The tool-calling fields of a chat request: what is read, and the 400 (naming the field) for each mistake.</summary>
public sealed class ToolParameterParserTests
{
    private const string User = """{"role":"user","content":"x"}""";
    private const string Weather = """{"type":"function","function":{"name":"get_weather","description":"d","parameters":{"type":"object","properties":{"city":{"type":"string"}}},"strict":true}}""";
    private const string Call = """{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}""";

    private static ApiRequest Chat(string fields) =>
        OpenAiRequestParser.ParseChat(System.Text.Json.JsonDocument.Parse("""{"model":"m",""" + fields + "}").RootElement);

    [Fact]
    public void Tools_choice_and_conversation_are_read()
    {
        var request = Chat($$$"""
            "messages":[{{{User}}},{{{Call}}},{"role":"tool","tool_call_id":"call_1","content":"18 C"}],
            "tools":[{{{Weather}}},{"type":"function","function":{"name":"noop"}}],
            "tool_choice":{"type":"function","function":{"name":"noop"}},"parallel_tool_calls":false
            """);
        Assert.Equal(["get_weather", "noop"], request.Tools.Select(t => t.Name));
        Assert.True(request.Tools[0].Strict);
        Assert.Equal("d", request.Tools[0].Description);
        Assert.Equal(ToolDefinition.NoParameters, request.Tools[1].ParametersJson);
        Assert.Equal(new ToolChoice(ToolChoiceMode.Named, "noop"), request.ToolChoice);
        Assert.False(request.ParallelToolCalls);
        var call = Assert.Single(request.Messages![1].ToolCalls!);
        Assert.Equal(("call_1", "get_weather", """{"city":"Paris"}"""), (call.Id, call.Name, call.Arguments));
        Assert.Equal("", request.Messages[1].Content);
        Assert.Equal("call_1", request.Messages[2].ToolCallId);
    }

    [Theory]
    [InlineData("", ToolChoiceMode.None)]
    [InlineData($",\"tools\":[{Weather}]", ToolChoiceMode.Auto)]
    [InlineData($",\"tools\":[{Weather}],\"tool_choice\":\"required\"", ToolChoiceMode.Required)]
    [InlineData($",\"tools\":[{Weather}],\"tool_choice\":\"none\"", ToolChoiceMode.None)]
    [InlineData(",\"tool_choice\":\"none\"", ToolChoiceMode.None)]
    public void Tool_choice_defaults_as_OpenAI_does(string fields, ToolChoiceMode mode)
    {
        var request = Chat($"\"messages\":[{User}]{fields}");
        Assert.Equal(mode, request.ToolChoice.Mode);
        Assert.True(request.ParallelToolCalls);
    }

    [Theory]
    [InlineData($"\"messages\":[{User}],\"tools\":{{}}", "tools")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{{\"type\":\"retrieval\"}}]", "tools[0].type")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{{\"type\":\"function\"}}]", "tools[0].function")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather},{{\"type\":\"function\",\"function\":{{\"name\":\"a.b\"}}}}]", "tools[1].function.name")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}}}]", "tools[0].function.name")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather},{Weather}]", "tools[1].function.name")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"a\",\"parameters\":\"{{}}\"}}}}]", "tools[0].function.parameters")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{{\"type\":\"function\",\"function\":{{\"name\":\"a\",\"params\":{{}}}}}}]", "tools[0].function.params")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":\"any\"", "tool_choice")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":{{\"type\":\"function\",\"function\":{{\"name\":\"other\"}}}}", "tool_choice.function.name")]
    [InlineData($"\"messages\":[{User}],\"tool_choice\":\"required\"", "tool_choice")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"parallel_tool_calls\":1", "parallel_tool_calls")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":\"required\",\"response_format\":{{\"type\":\"json_object\"}}", "response_format")]
    [InlineData($"\"messages\":[{User},{Call},{{\"role\":\"tool\",\"content\":\"18 C\"}}]", "messages[2].tool_call_id")]
    [InlineData($"\"messages\":[{User},{Call},{{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":\"18 C\"}}]", "messages[2].tool_call_id")]
    [InlineData($"\"messages\":[{User},{{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"18 C\"}}]", "messages[1].tool_call_id")]
    [InlineData($"\"messages\":[{{\"role\":\"user\",\"content\":\"x\",\"tool_calls\":[]}}]", "messages[0].tool_calls")]
    [InlineData($"\"messages\":[{User},{{\"role\":\"assistant\",\"tool_calls\":[{{\"id\":\"c\",\"type\":\"function\",\"function\":{{\"name\":\"f\",\"arguments\":{{}}}}}}]}}]", "messages[1].tool_calls[0].function.arguments")]
    [InlineData($"\"messages\":[{User},{{\"role\":\"assistant\",\"tool_calls\":[{{\"type\":\"function\",\"function\":{{\"name\":\"f\",\"arguments\":\"{{}}\"}}}}]}}]", "messages[1].tool_calls[0].id")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"max_repairs\":6", "max_repairs")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"max_repairs\":-1", "max_repairs")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":\"required\",\"max_repairs\":\"2\"", "max_repairs")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":\"none\",\"max_repairs\":1", "max_repairs")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":\"none\",\"constrained_decoding\":false", "constrained_decoding")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"constrained_decoding\":0", "constrained_decoding")]
    [InlineData($"\"messages\":[{User}],\"tools\":[{Weather}],\"json_whitespace\":\"any\"", "json_whitespace")]
    public void Each_mistake_names_its_field(string fields, string param)
    {
        var e = Assert.Throws<OpenAiError>(() => Chat(fields));
        Assert.Equal(400, e.StatusCode);
        Assert.Equal(param, e.Param);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("required")]
    [InlineData("{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}")]
    public void Repairs_and_constrained_decoding_apply_to_calls(string choice)
    {
        var request = Chat($"\"messages\":[{User}],\"tools\":[{Weather}],\"tool_choice\":{(choice.StartsWith('{') ? choice : $"\"{choice}\"")},\"max_repairs\":3,\"constrained_decoding\":false");
        Assert.Equal(3, request.MaxRepairs);
        Assert.False(request.ConstrainedDecoding);
    }

    [Fact]
    public void At_most_128_tools()
    {
        string Tools(int count) => string.Join(',', Enumerable.Range(0, count).Select(i => "{\"type\":\"function\",\"function\":{\"name\":\"f" + i + "\"}}"));
        Assert.Equal(128, Chat($"\"messages\":[{User}],\"tools\":[{Tools(128)}]").Tools.Count);
        var e = Assert.Throws<OpenAiError>(() => Chat($"\"messages\":[{User}],\"tools\":[{Tools(129)}]"));
        Assert.Equal("tools", e.Param);
    }
}
