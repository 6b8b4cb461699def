using System.Text;
using Flywheel.Sampling;
using Flywheel.Serving;

namespace Flywheel.Server.OpenAi;

/// <summary>Builds a <c>chat.completion</c> body from a whole generation.</summary>
internal static class ChatResponses
{
    /// <summary>Runs the generation to its end; returns the body, or the error to send instead.</summary>
    public static async Task<(ChatCompletion? Body, OpenAiError? Error)> CompleteAsync(Generation generation)
    {
        var text = new StringBuilder();
        var tokens = new List<GeneratedToken>();
        var outcome = await generation.RunAsync((delta, deltaTokens) =>
        {
            text.Append(delta);
            tokens.AddRange(deltaTokens);
            return ValueTask.CompletedTask;
        });
        if (outcome.Finished is not { } finished)
        {
            return (null, outcome.Error);
        }

        var logprobs = generation.Request.TopLogprobs is null ? null : LogprobsBuilder.Chat(tokens);
        var message = finished.ToolCalls is { Count: > 0 } calls
            ? new ChatMessageBody("assistant", text.Length == 0 ? null : text.ToString())
            {
                ToolCalls = [.. calls.Select(c => new ToolCallBody(c.Id, "function", new ToolCallFunction(c.Name, c.Arguments)))],
            }
            : new ChatMessageBody("assistant", text.ToString());
        var choice = new ChatChoice(0, message, logprobs, FinishReasons.Name(finished));
        return (new ChatCompletion(generation.Id, generation.Created, generation.Request.Model, [choice], FinishReasons.Usage(finished)) { StructuredOutput = StructuredOutputInfo.From(finished.Structured) }, null);
    }
}

/// <summary>OpenAI's spelling of finish reasons and usage.</summary>
internal static class FinishReasons
{
    /// <summary>"tool_calls" when the answer made calls; otherwise the engine's reason.</summary>
    public static string Name(Finished finished) =>
        finished.ToolCalls is { Count: > 0 } ? "tool_calls" : Name(finished.Reason);

    public static string Name(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Abort => "abort",
        _ => "error",
    };

    public static Usage Usage(Finished finished) =>
        new(finished.PromptTokenCount, finished.CompletionTokenCount, finished.PromptTokenCount + finished.CompletionTokenCount);
}
