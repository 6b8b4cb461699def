using System.Runtime.CompilerServices;
using System.Text;
using Flywheel.Sampling;
using Flywheel.Serving.Metrics;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Serving.Tools;
using Flywheel.Structured;
using Flywheel.Templates;

namespace Flywheel.Serving.Backend;

/// <summary>
/// Structured output on top of the plain update stream: validation of the final text against the schema
/// and, for whole (non-streaming) responses, TypeChat-style repair turns. Thread-safe (no state of its own).
/// </summary>
internal sealed class StructuredOutput(PromptEncoder prompts, EngineSubmitter submitter, UpdateTranslator updates, FlywheelMetrics metrics, int defaultMaxRepairs)
{
    /// <summary>A stream: passed through as generated, then the finish event says whether the text validated (no repairs: it was already sent).</summary>
    public async IAsyncEnumerable<GenerationUpdate> Validated(Attempt attempt, ApiRequest request, CompiledFormat format, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        await foreach (var update in updates.Translate(attempt, request, cancellationToken).ConfigureAwait(false))
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
    /// A whole response, through <see cref="RepairLoop.RunAsync{TAnswer}"/>: each attempt is generated to
    /// its end and validated; an invalid one is followed by a repair turn (the bad answer as an assistant
    /// turn, the validator's errors as a user turn) until one validates or the repairs run out. Only the
    /// last attempt's text is returned; usage counts every attempt. A repair that cannot be submitted
    /// (queue full, context exhausted) ends the loop with the last answer and its errors; an attempt that
    /// fails or is aborted ends it with that outcome.
    /// </summary>
    public IAsyncEnumerable<GenerationUpdate> Repairing(Attempt first, ApiRequest request, CompiledFormat format, CancellationToken cancellationToken) =>
        Repairing(first, request, new RepairRules(format.Validator.Validate, RepairLoop.RepairPrompt, format, null), cancellationToken);

    /// <summary>
    /// tool_choice auto, a whole response: as <see cref="Repairing(Attempt, ApiRequest, CompiledFormat, CancellationToken)"/>,
    /// judged by <see cref="AutoCallCheck"/> (text is valid; a call must parse and validate). A repair turn asks for the
    /// corrected call in the family's format and is generated under <paramref name="mustCall"/>, a constraint that
    /// makes the answer a call (given the tokens it may generate; it throws <see cref="RequestRejectedException"/>
    /// when a call cannot fit, which ends the repairs); null when decoding is unconstrained.
    /// </summary>
    public IAsyncEnumerable<GenerationUpdate> RepairingCalls(Attempt first, ApiRequest request, ToolPlan plan, Func<int, ITokenConstraint?>? mustCall, CancellationToken cancellationToken) =>
        Repairing(first, request, new RepairRules(text => AutoCallCheck.Errors(text, plan), errors => AutoCallCheck.RepairPrompt(errors, plan.Format), null, mustCall), cancellationToken);

    private async IAsyncEnumerable<GenerationUpdate> Repairing(Attempt first, ApiRequest request, RepairRules rules, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Attempt? pending = first;
        int promptTokens = 0, completionTokens = 0;
        async Task<Answer?> Generate(IReadOnlyList<ChatMessage> conversation, CancellationToken ct)
        {
            var (current, attempt) = pending is { } p ? (request, p) : TrySubmitRepair(request, conversation, rules, ct);
            pending = null;
            if (attempt is null)
            {
                return null;
            }

            if (!ReferenceEquals(current, request))
            {
                metrics.RecordRepair();
            }

            var answer = await Collect(attempt, current, ct).ConfigureAwait(false);
            promptTokens += answer?.Finished.PromptTokenCount ?? 0;
            completionTokens += answer?.Finished.CompletionTokenCount ?? 0;
            return answer;
        }

        // The conversation the loop extends: chat's own turns, or the completions prompt as one user turn.
        IReadOnlyList<ChatMessage> start = request.IsChat ? request.Messages ?? [] : [new ChatMessage("user", request.Prompt ?? "")];
        var result = await RepairLoop.RunAsync(start, rules.Validate, rules.Prompt, request.MaxRepairs ?? defaultMaxRepairs, Generate,
            a => a.Finished.Reason is FinishReason.Stop or FinishReason.Length ? a.Text : null, cancellationToken).ConfigureAwait(false);
        foreach (var failed in result.AttemptErrors.Where(e => e.Count > 0))
        {
            metrics.RecordValidationFailure();
        }

        foreach (var delta in result.Answer.Deltas)
        {
            yield return delta;
        }

        var validated = result.Answer.Finished.Reason is FinishReason.Stop or FinishReason.Length;
        yield return result.Answer.Finished with
        {
            PromptTokenCount = promptTokens,
            CompletionTokenCount = completionTokens,
            Structured = validated ? Report(result.LastErrors, result.RepairCount, request) : null,
        };
    }

    /// <summary>Reads one attempt to its end; null when the reader was cancelled before the finish event.</summary>
    private async Task<Answer?> Collect(Attempt attempt, ApiRequest request, CancellationToken cancellationToken)
    {
        var deltas = new List<TextDelta>();
        var text = new StringBuilder();
        await foreach (var update in updates.Translate(attempt, request, cancellationToken).ConfigureAwait(false))
        {
            if (update is TextDelta delta)
            {
                deltas.Add(delta);
                text.Append(delta.Text);
            }
            else
            {
                return new Answer(deltas, (Finished)update, text.ToString());
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        throw new InvalidOperationException("the update stream ended without a finish event");
    }

    /// <summary>The next attempt for the repair conversation, or (request, null) when it cannot run.</summary>
    private (ApiRequest Request, Attempt? Attempt) TrySubmitRepair(ApiRequest request, IReadOnlyList<ChatMessage> conversation, RepairRules rules, CancellationToken cancellationToken)
    {
        // Completions have no turns: the original prompt, then each answer and instruction as plain text.
        var repaired = request.IsChat
            ? request with { Messages = conversation }
            : request with { Prompt = string.Concat(conversation.Skip(1).Select(m => m.Content + "\n\n").Prepend(request.Prompt ?? "")) };
        try
        {
            var (ids, maxNewTokens) = prompts.Prepare(repaired);
            return (repaired, submitter.Submit(ids, maxNewTokens, repaired, rules.Format, cancellationToken, rules.Constraint).Attempt);
        }
        catch (RequestRejectedException)
        {
            return (request, null); // the conversation no longer fits the context (or the template refuses it)
        }
    }

    private IReadOnlyList<JsonValidationError> Validate(CompiledFormat format, string text)
    {
        var errors = format.Validator.Validate(text);
        if (errors.Count > 0)
        {
            metrics.RecordValidationFailure();
        }

        return errors;
    }

    /// <summary>What a repair loop judges by and how its repair turns are constrained: a response format's grammar, or a constraint of its own.</summary>
    private sealed record RepairRules(
        Func<string, IReadOnlyList<JsonValidationError>> Validate, Func<IReadOnlyList<JsonValidationError>, string> Prompt, CompiledFormat? Format, Func<int, ITokenConstraint?>? Constraint);

    /// <summary>One attempt read to its end: the deltas to replay, the finish event, the text.</summary>
    private sealed record Answer(List<TextDelta> Deltas, Finished Finished, string Text);

    private static StructuredOutputReport Report(IReadOnlyList<JsonValidationError> errors, int repairs, ApiRequest request) =>
        new(errors.Count == 0, repairs, request.ConstrainedDecoding, errors.Count == 0 ? null : [.. errors.Take(20).Select(e => e.ToString())]);
}
