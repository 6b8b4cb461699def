using System.Text;
using System.Text.Json;
using Flywheel.Engine.Tests;
using Flywheel.Templates;

namespace Flywheel.Templates.Tests;

/// <summary>
/// Renders the conversations of ChatTemplateConversations.json with the real Llama-3 and Qwen3 chat
/// templates (tokenizer_config.json of the npm tokenizer packages) and compares, character for character,
/// with (1) @huggingface/transformers' tokenizer.apply_chat_template, run live with node on the same
/// files (render-reference.mjs), and (2) Python Jinja2's rendering stored in the file by
/// jinja2-reference.py. Conversations marked "diverges_from_transformers_js" only check (2), and check
/// that transformers.js still differs, so a fix there shows up here.
/// </summary>
public sealed class ChatTemplateCrossCheckTests
{
    private static readonly string ConversationsPath = Path.Combine(AppContext.BaseDirectory, "ChatTemplateConversations.json");

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void Renders_every_conversation_like_transformers_and_python(string model)
    {
        var (config, template, cases, reference) = Load(model);
        var bos = TokenText(config, "bos_token");
        var eos = TokenText(config, "eos_token");

        var failures = new StringBuilder();
        for (var i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var name = c.GetProperty("name").GetString();
            var ours = template.Render(Messages(c), c.GetProperty("add_generation_prompt").GetBoolean(), bos, eos, Kwargs(c));
            var python = c.GetProperty("python_expected").GetProperty(model).GetString();
            var js = reference[i].ValueKind == JsonValueKind.String ? reference[i].GetString() : reference[i].ToString();
            if (ours != python)
            {
                failures.AppendLine($"{model}/{name}: differs from Python Jinja2\n  ours:   {Show(ours)}\n  python: {Show(python)}");
            }

            var diverges = c.TryGetProperty("diverges_from_transformers_js", out _);
            if (!diverges && ours != js)
            {
                failures.AppendLine($"{model}/{name}: differs from transformers.js\n  ours: {Show(ours)}\n  js:   {Show(js)}");
            }
            else if (diverges && python != js && ours == js)
            {
                failures.AppendLine($"{model}/{name}: expected to follow Python, not transformers.js");
            }
        }

        Assert.True(failures.Length == 0, failures.ToString());
    }

    /// <summary>
    /// A family's tokenizer_config.json and chat template, every conversation of the file, and transformers.js's
    /// rendering of each (a string, or an object with its error).
    /// </summary>
    internal static (JsonElement Config, ChatTemplate Template, List<JsonElement> Cases, List<JsonElement> Reference) Load(string model)
    {
        var modelDir = TestAssets.TokenizerModelDir(model);
        using var configDocument = JsonDocument.Parse(File.ReadAllText(Path.Combine(modelDir, "tokenizer_config.json")));
        var config = configDocument.RootElement.Clone();
        var template = ChatTemplate.Parse(config.GetProperty("chat_template").GetString()!);
        using var conversations = JsonDocument.Parse(File.ReadAllText(ConversationsPath));
        List<JsonElement> cases = [.. conversations.RootElement.EnumerateArray().Select(e => e.Clone())];
        var reference = RenderWithTransformersJs(modelDir);
        Assert.Equal(cases.Count, reference.Count);
        return (config, template, cases, reference);
    }

    private static List<JsonElement> RenderWithTransformersJs(string modelDir)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "render-reference.mjs");
        var (exitCode, stdout, stderr) = TestAssets.Run("node", [script, TestAssets.NodeModules, modelDir, ConversationsPath], TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"node {script} failed ({exitCode}): {stderr}");
        using var document = JsonDocument.Parse(stdout);
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    private static string? TokenText(JsonElement config, string name) =>
        config.TryGetProperty(name, out var token) ? token.ValueKind switch
        {
            JsonValueKind.String => token.GetString(),
            JsonValueKind.Object => token.GetProperty("content").GetString(),
            _ => null,
        } : null;

    private static List<ChatMessage> Messages(JsonElement c) =>
        [.. c.GetProperty("messages").EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)
        {
            ReasoningContent = m.TryGetProperty("reasoning_content", out var r) ? r.GetString() : null,
            ToolCallId = m.TryGetProperty("tool_call_id", out var callId) ? callId.GetString() : null,
            ToolCalls = m.TryGetProperty("tool_calls", out var calls)
                ? [.. calls.EnumerateArray().Select(t => new ChatToolCall(
                    t.GetProperty("id").GetString()!,
                    t.GetProperty("function").GetProperty("name").GetString()!,
                    t.GetProperty("function").GetProperty("arguments").GetRawText()))]
                : null,
        })];

    private static Dictionary<string, object?>? Kwargs(JsonElement c) =>
        c.TryGetProperty("kwargs", out var kwargs)
            ? kwargs.EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone())
            : null;

    private static string Show(string? s) => JsonSerializer.Serialize(s);
}
