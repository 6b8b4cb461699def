using System.Text.Json;
using Flywheel.Engine.Tests;
using Flywheel.Execution;
using Flywheel.Models.Building;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Flywheel.Templates;

namespace Flywheel.Server.Tests.OpenAiClient;

/// <summary>
/// The official OpenAI client for node (npm <c>openai</c>), pointed at a real server over the tiny model,
/// does chat and completions, streaming and not, lists models and meets refusals
/// (openai-client.mjs). What it parsed must agree with what the engine generates on its own: the same
/// greedy text and finish reason as the single-request generator, streamed text equal to non-streamed,
/// usage counting the same tokens.
/// </summary>
public sealed class OpenAiClientTests
{
    private const string ChatContent = "Tell me about the flywheel";
    private const string Prompt = "The flywheel spins";
    private const int MaxTokens = 12;

    [Fact]
    public async Task TheOfficialNodeClientTalksToTheServer()
    {
        await using var server = await EngineServer.StartAsync("server-openai-client", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64 });
        var (model, tokenizer) = (server.Model, server.Tokenizer);

        // What the engine produces for the same requests, without the server: greedy, no EOS override.
        using var generator = new TextGenerator(model, tokenizer);
        var chatRequest = new ApiRequest { IsChat = true, Model = model.Name, Messages = [new ChatMessage("user", ChatContent)] };
        var template = tokenizer.ChatTemplate is { } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;
        var chatIds = tokenizer.Encode(PromptText.Render(chatRequest, template, tokenizer.BosToken, tokenizer.EosToken));
        var expectedChat = generator.Generate(chatIds, new GenerateParams { MaxTokens = MaxTokens });
        var expectedCompletion = generator.Generate(generator.EncodePrompt(Prompt), new GenerateParams { MaxTokens = MaxTokens });

        // A stop string from the middle of the completion: the text ends before its first occurrence.
        var stop = expectedCompletion.Text.Substring(expectedCompletion.Text.Length / 2, 3);
        var beforeStop = expectedCompletion.Text[..expectedCompletion.Text.IndexOf(stop, StringComparison.Ordinal)];

        using var result = RunClient(server, new { model = model.Name, chat = ChatContent, prompt = Prompt, max_tokens = MaxTokens, stop });
        var root = result.RootElement;

        var chat = root.GetProperty("chat");
        Assert.Equal("chat.completion", chat.GetProperty("object").GetString());
        Assert.Equal(model.Name, chat.GetProperty("model").GetString());
        Assert.Equal("assistant", chat.GetProperty("role").GetString());
        Assert.Equal(1, chat.GetProperty("choice_count").GetInt32());
        Assert.Equal(expectedChat.Text, chat.GetProperty("text").GetString());
        Assert.Equal(expectedChat.FinishReason.ToString().ToLowerInvariant(), chat.GetProperty("finish_reason").GetString());
        AssertUsage(chat.GetProperty("usage"), chatIds.Length, expectedChat.TokenIds.Count);

        var chatStream = root.GetProperty("chat_stream");
        AssertStreamAgrees(chatStream, chat);

        var completion = root.GetProperty("completion");
        Assert.Equal("text_completion", completion.GetProperty("object").GetString());
        Assert.Equal(expectedCompletion.Text, completion.GetProperty("text").GetString());
        Assert.Equal(expectedCompletion.FinishReason.ToString().ToLowerInvariant(), completion.GetProperty("finish_reason").GetString());
        AssertUsage(completion.GetProperty("usage"), expectedCompletion.PromptTokenCount, expectedCompletion.TokenIds.Count);
        AssertStreamAgrees(root.GetProperty("completion_stream"), completion);

        foreach (var name in (string[])["completion_stop", "completion_stop_stream"])
        {
            var stopped = root.GetProperty(name);
            Assert.Equal(beforeStop, stopped.GetProperty("text").GetString());
            var reasons = stopped.TryGetProperty("finish_reasons", out var streamed) ? streamed.EnumerateArray().Select(r => r.GetString()) : [stopped.GetProperty("finish_reason").GetString()];
            Assert.Equal(["stop"], reasons);
        }

        var card = Assert.Single(root.GetProperty("models").EnumerateArray());
        Assert.Equal(model.Name, card.GetProperty("id").GetString());
        Assert.Equal("model", card.GetProperty("object").GetString());
        Assert.Equal(model.Name, root.GetProperty("model").GetProperty("id").GetString());

        var bad = root.GetProperty("bad_parameter");
        AssertRefusal(bad, "BadRequestError", 400, "temperature");
        var unknown = root.GetProperty("unknown_parameter");
        AssertRefusal(unknown, "BadRequestError", 400, "max_tokns");
        Assert.Equal("unknown_parameter", unknown.GetProperty("code").GetString());
        AssertRefusal(root.GetProperty("unknown_model"), "NotFoundError", 404, "model");
        Assert.Contains("no-such-model", root.GetProperty("unknown_model").GetProperty("message").GetString());
    }

    /// <summary>A stream read by the client carries one id, the non-streamed text and finish reason, and a usage-only last chunk.</summary>
    private static void AssertStreamAgrees(JsonElement stream, JsonElement whole)
    {
        Assert.Equal(whole.GetProperty("text").GetString(), stream.GetProperty("text").GetString());
        Assert.Equal([whole.GetProperty("finish_reason").GetString()], stream.GetProperty("finish_reasons").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(1, stream.GetProperty("ids").GetArrayLength());
        Assert.True(stream.GetProperty("chunk_count").GetInt32() > 2, stream.ToString());
        Assert.Equal(0, stream.GetProperty("usage_chunk_choices").GetInt32()); // include_usage: the last chunk has no choices
        Assert.Equal(whole.GetProperty("usage").ToString(), stream.GetProperty("usage").ToString());
    }

    private static void AssertUsage(JsonElement usage, int promptTokens, int completionTokens)
    {
        Assert.Equal(promptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(completionTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(promptTokens + completionTokens, usage.GetProperty("total_tokens").GetInt32());
    }

    /// <summary>The client raised its own error class for the status, carrying the server's error object.</summary>
    private static void AssertRefusal(JsonElement refusal, string errorClass, int status, string param)
    {
        Assert.True(refusal.GetProperty("raised").GetBoolean(), "the client accepted a request the server should refuse");
        Assert.Equal(errorClass, refusal.GetProperty("class").GetString());
        Assert.True(refusal.GetProperty("is_api_error").GetBoolean());
        Assert.Equal(status, refusal.GetProperty("status").GetInt32());
        Assert.Equal(param, refusal.GetProperty("param").GetString());
        Assert.Equal("invalid_request_error", refusal.GetProperty("type").GetString());
        var serverMessage = refusal.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains(param, serverMessage);
        Assert.Contains(serverMessage, refusal.GetProperty("message").GetString()); // the client's message quotes the server's
    }

    private static JsonDocument RunClient(EngineServer server, object cases)
    {
        var casesPath = TestScratch.Path($"openai-{Guid.NewGuid():N}.json");
        File.WriteAllText(casesPath, JsonSerializer.Serialize(cases));
        try
        {
            var script = Path.Combine(AppContext.BaseDirectory, "OpenAiClient", "openai-client.mjs");
            var baseUrl = new Uri(server.BaseUri, "v1").ToString();
            var (exitCode, stdout, stderr) = TestAssets.Run("node", [script, TestAssets.NodeModules, baseUrl, casesPath], TimeSpan.FromMinutes(2));
            Assert.True(exitCode == 0, $"node {script} failed ({exitCode}): {stderr}");
            return JsonDocument.Parse(stdout);
        }
        finally
        {
            File.Delete(casesPath);
        }
    }
}
