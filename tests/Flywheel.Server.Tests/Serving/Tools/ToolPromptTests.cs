using System.Text.Json;
using Flywheel.Engine.Tests;
using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Flywheel.Templates;

namespace Flywheel.Server.Tests.Serving.Tools;

/// <summary>
/// A request with tools, a call and its result, as the client sends it (arguments as a JSON string), renders through
/// the request path exactly as Python Jinja2 and transformers.js render the same conversation (the
/// tools_call_and_result case of the template cross-check, whose expectation both agree on).
/// </summary>
public sealed class ToolPromptTests
{
    private const string Body = """
        {"model":"m","messages":[
          {"role":"system","content":"Answer with the tools when they help."},
          {"role":"user","content":"How warm is it in Zürich?"},
          {"role":"assistant","content":null,"tool_calls":[{"id":"call_Ab3","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Zürich\", \"days\": 1}"}}]},
          {"role":"tool","tool_call_id":"call_Ab3","content":"{\"temperature_c\": 4, \"sky\": \"fog\"}"}],
         "tools":[
          {"type":"function","function":{"name":"get_weather","description":"Get the weather \"now\" — in °C","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name, e.g. Zürich"},"days":{"type":"integer","minimum":1}},"required":["city"]}}},
          {"type":"function","function":{"name":"noop","parameters":{"type":"object","properties":{}}}}]}
        """;

    private static (ApiRequest Request, ChatTemplate Template, JsonElement Config, string Expected) Load(string model)
    {
        var request = OpenAiRequestParser.ParseChat(JsonDocument.Parse(Body).RootElement);
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestAssets.TokenizerModelDir(model), "tokenizer_config.json"))).RootElement;
        var conversations = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestAssets.RepositoryRoot, "tests", "Flywheel.Templates.Tests", "ChatTemplateConversations.json"))).RootElement;
        var expected = conversations.EnumerateArray().Single(c => c.GetProperty("name").GetString() == "tools_call_and_result")
            .GetProperty("python_expected").GetProperty(model).GetString()!;
        return (request, ChatTemplate.Parse(config.GetProperty("chat_template").GetString()!), config, expected);
    }

    private static string? Special(JsonElement config, string name) =>
        config.GetProperty(name) is { ValueKind: JsonValueKind.Object } o ? o.GetProperty("content").GetString() : config.GetProperty(name).GetString();

    [Fact]
    public void Qwen3_gets_the_tools_the_call_and_the_result_as_transformers_renders_them()
    {
        var (request, template, config, expected) = Load("qwen3");
        Assert.Equal(expected, PromptText.Render(request, template, null, Special(config, "eos_token")));
    }

    [Fact]
    public void A_template_that_never_reads_tools_gets_them_in_the_system_turn()
    {
        var (request, template, config, expected) = Load("llama3");
        var prompt = PromptText.Render(request, template, Special(config, "bos_token"), Special(config, "eos_token"));
        Assert.NotEqual(expected, prompt);
        var system = prompt[..prompt.IndexOf("<|eot_id|>", StringComparison.Ordinal)];
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nAnswer with the tools when they help.\n\n", system);
        Assert.Contains("""{"type":"function","function":{"name":"get_weather","description":"Get the weather \"now\" — in °C","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name, e.g. Zürich"}""", system); // readable, not \u-escaped
        Assert.Contains("\"name\":\"noop\"", system);
        Assert.Contains("<tool_call>", system);
        Assert.Equal(expected.Replace("Answer with the tools when they help.", system[(system.IndexOf("\n\n", StringComparison.Ordinal) + 2)..], StringComparison.Ordinal), prompt);
    }
}
