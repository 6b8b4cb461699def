using System.Text;
using System.Text.Json;
using Flywheel.Engine.Tests;
using Flywheel.Templates;

namespace Flywheel.Templates.Tests;

/// <summary>
/// The chat templates the Gemma 3 and DeepSeek V3 tokenizer packages carry (Llama-2's and gpt-oss's carry
/// none) render every conversation of ChatTemplateConversations.json as @huggingface/transformers'
/// apply_chat_template does, character for character; where the template raises an error (Gemma 3 refuses
/// tool roles), both must raise the same message.
/// </summary>
public sealed class FamilyChatTemplateTests
{
    [Theory]
    [InlineData("gemma3")]
    [InlineData("deepseek_v3")]
    public void Renders_every_conversation_like_transformers_js(string model)
    {
        var (config, template, cases, expected) = ChatTemplateCrossCheckTests.Load(model);

        var failures = new StringBuilder();
        for (var i = 0; i < cases.Count; i++)
        {
            var js = expected[i].ValueKind == JsonValueKind.String ? expected[i].GetString() : "error: " + expected[i].GetProperty("error").GetString();
            var ours = Render(template, config, cases[i]);
            if (ours != js)
            {
                failures.AppendLine($"{model}/{cases[i].GetProperty("name").GetString()}:\n  ours: {JsonSerializer.Serialize(ours)}\n  js:   {JsonSerializer.Serialize(js)}");
            }
        }

        Assert.True(failures.Length == 0, failures.ToString());
    }

    private static string Render(ChatTemplate template, JsonElement config, JsonElement c)
    {
        var messages = c.GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)
        {
            ReasoningContent = m.TryGetProperty("reasoning_content", out var r) ? r.GetString() : null,
            ToolCalls = m.TryGetProperty("tool_calls", out var calls)
                ? [.. calls.EnumerateArray().Select(t => new ChatToolCall(
                    t.GetProperty("id").GetString()!,
                    t.GetProperty("function").GetProperty("name").GetString()!,
                    t.GetProperty("function").GetProperty("arguments").GetRawText()))]
                : null,
        }).ToList();
        var kwargs = c.TryGetProperty("kwargs", out var k) ? k.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone()) : null;
        try
        {
            return template.Render(messages, c.GetProperty("add_generation_prompt").GetBoolean(), TokenText(config, "bos_token"), TokenText(config, "eos_token"), kwargs);
        }
        catch (TemplateException e) when (e.RaisedByTemplate)
        {
            return "error: " + e.Message;
        }
    }

    private static string? TokenText(JsonElement config, string name) =>
        !config.TryGetProperty(name, out var token) ? null
        : token.ValueKind == JsonValueKind.String ? token.GetString()
        : token.ValueKind == JsonValueKind.Object ? token.GetProperty("content").GetString()
        : null;
}
