using System.Text;
using Flywheel.Serving;

namespace Flywheel.Server.OpenAi;

/// <summary>Builds a <c>text_completion</c> body from a whole generation.</summary>
internal static class CompletionResponses
{
    /// <summary>Runs the generation to its end; returns the body, or the error to send instead.</summary>
    public static async Task<(TextCompletion? Body, OpenAiError? Error)> CompleteAsync(Generation generation)
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

        var offset = 0;
        var logprobs = generation.Request.TopLogprobs is null ? null : LogprobsBuilder.Completion(tokens, ref offset);
        var choice = new CompletionChoice(text.ToString(), 0, logprobs, FinishReasons.Name(finished.Reason));
        return (new TextCompletion(generation.Id, generation.Created, generation.Request.Model, [choice], FinishReasons.Usage(finished)) { StructuredOutput = StructuredOutputInfo.From(finished.Structured) }, null);
    }
}
