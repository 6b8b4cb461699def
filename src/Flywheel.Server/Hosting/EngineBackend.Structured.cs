using System.Runtime.CompilerServices;
using System.Text;
using Flywheel.Server.OpenAi;
using Flywheel.Structured;
using Flywheel.Templates;

namespace Flywheel.Server.Hosting;

// Structured output on top of the plain update stream: validation of the final text against the schema
// and, for whole (non-streaming) responses, TypeChat-style repair turns.
public sealed partial class EngineBackend
{
    /// <summary>Repair turns a response_format request gets when it does not set max_repairs.</summary>
    public const int DefaultMaxRepairs = 2;

    private readonly ResponseFormatCompiler _formats;
    private readonly int _defaultMaxRepairs;

    /// <summary>A stream: passed through as generated, then the finish event says whether the text validated (no repairs: it was already sent).</summary>
    private async IAsyncEnumerable<GenerationUpdate> Validated(Attempt attempt, ApiRequest request, CompiledFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        await foreach (var update in Translate(attempt, request, cancellationToken).ConfigureAwait(false))
        {
            if (update is TextDelta delta)
            {
                text.Append(delta.Text);
                yield return delta;
            }
            else if (update is Finished finished)
            {
                var errors = Validate(format, text.ToString());
                yield return finished with { Structured = Report(errors, 0, request) };
            }
        }
    }

    /// <summary>
    /// A whole response: each attempt is generated to its end and validated; an invalid one is followed
    /// by a repair turn (the bad answer as an assistant turn, the validator's errors as a user turn) until
    /// one validates or the repairs run out. Only the last attempt's text is returned; usage counts every
    /// attempt. A repair that cannot be submitted (queue full, context exhausted) ends the loop with the
    /// last answer and its errors; an attempt that fails or is aborted ends it with that outcome.
    /// </summary>
    private async IAsyncEnumerable<GenerationUpdate> Repairing(Attempt first, ApiRequest request, CompiledFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var maxRepairs = request.MaxRepairs ?? _defaultMaxRepairs;
        var current = request;
        var attempt = first;
        int promptTokens = 0, completionTokens = 0;
        for (var repair = 0; ; repair++)
        {
            var deltas = new List<TextDelta>();
            var text = new StringBuilder();
            Finished? finished = null;
            await foreach (var update in Translate(attempt, current, cancellationToken).ConfigureAwait(false))
            {
                if (update is TextDelta delta)
                {
                    deltas.Add(delta);
                    text.Append(delta.Text);
                }
                else
                {
                    finished = (Finished)update;
                }
            }

            if (finished is null)
            {
                yield break; // cancelled: the server stops reading at that moment anyway
            }

            promptTokens += finished.PromptTokenCount;
            completionTokens += finished.CompletionTokenCount;
            var errors = finished.Reason is FinishReason.Stop or FinishReason.Length ? Validate(format, text.ToString()) : [];
            var next = errors.Count > 0 && repair < maxRepairs ? TrySubmitRepair(current, text.ToString(), errors, format, cancellationToken) : null;
            if (next is null)
            {
                foreach (var delta in deltas)
                {
                    yield return delta;
                }

                yield return finished with
                {
                    PromptTokenCount = promptTokens,
                    CompletionTokenCount = completionTokens,
                    Structured = finished.Reason is FinishReason.Stop or FinishReason.Length ? Report(errors, repair, request) : null,
                };
                yield break;
            }

            _metrics.RecordRepair();
            (current, attempt) = next.Value;
        }
    }

    /// <summary>The next attempt with the repair turn appended, or null when it cannot run (then the loop ends).</summary>
    private (ApiRequest Request, Attempt Attempt)? TrySubmitRepair(ApiRequest request, string answer, IReadOnlyList<JsonValidationError> errors, CompiledFormat format, CancellationToken cancellationToken)
    {
        var instruction = RepairLoop.RepairPrompt(errors);
        var repaired = request.IsChat
            ? request with { Messages = [.. request.Messages ?? [], new ChatMessage("assistant", answer), new ChatMessage("user", instruction)] }
            : request with { Prompt = $"{request.Prompt}{answer}\n\n{instruction}\n\n" };
        try
        {
            var ids = Encode(repaired);
            var maxNewTokens = PromptLimits.ResolveMaxTokens(ids.Length, repaired, ContextLength);
            var (attempt, _) = Submit(ids, maxNewTokens, repaired, format, cancellationToken);
            return attempt is null ? null : (repaired, attempt);
        }
        catch (OpenAiError)
        {
            return null; // the conversation no longer fits the context (or the template refuses it)
        }
    }

    private IReadOnlyList<JsonValidationError> Validate(CompiledFormat format, string text)
    {
        var errors = format.Validator.Validate(text);
        if (errors.Count > 0)
        {
            _metrics.RecordValidationFailure();
        }

        return errors;
    }

    private static StructuredOutputInfo Report(IReadOnlyList<JsonValidationError> errors, int repairs, ApiRequest request) =>
        new(errors.Count == 0, repairs, request.ConstrainedDecoding, errors.Count == 0 ? null : [.. errors.Take(20).Select(e => e.ToString())]);
}
