using System.Text;
using Flywheel.Structured;
using Flywheel.Templates;

namespace Flywheel.Serving.Backend;

/// <summary>What a <see cref="RepairLoop"/> run produced.</summary>
/// <param name="Text">The last generated text (valid when <paramref name="Valid"/>).</param>
/// <param name="Valid">Whether <paramref name="Text"/> parses and validates against the schema.</param>
/// <param name="RepairCount">Repair turns used (0 = the first answer was valid or no repairs allowed).</param>
/// <param name="AttemptErrors">Validation errors of each attempt, in order; the last is empty when valid.</param>
public sealed record RepairResult(string Text, bool Valid, int RepairCount, IReadOnlyList<IReadOnlyList<JsonValidationError>> AttemptErrors);

/// <summary>What <see cref="RepairLoop.RunAsync{TAnswer}"/> produced: the last answer and how it got there.</summary>
/// <param name="Answer">The last answer generated (the one to return to the client).</param>
/// <param name="Valid">Whether that answer validated.</param>
/// <param name="RepairCount">Repair turns that produced an answer.</param>
/// <param name="AttemptErrors">Validation errors of each validated attempt, in order (empty list = valid).</param>
public sealed record RepairResult<TAnswer>(TAnswer Answer, bool Valid, int RepairCount, IReadOnlyList<IReadOnlyList<JsonValidationError>> AttemptErrors)
{
    /// <summary>The last attempt's errors (empty when valid or when the answer could not be validated).</summary>
    public IReadOnlyList<JsonValidationError> LastErrors => Valid || AttemptErrors.Count == 0 ? [] : AttemptErrors[^1];
}

/// <summary>
/// TypeChat-style validate-and-repair: generate, validate; on failure append the bad answer as an
/// assistant turn and a user turn listing the validator's errors, asking for a corrected JSON
/// object only; repeat up to the repair limit. Stateless and thread-safe; each run is independent.
/// </summary>
public sealed class RepairLoop
{
    private readonly Func<IReadOnlyList<ChatMessage>, CancellationToken, Task<string>> _generate;

    /// <summary>Creates a loop around a generation delegate (messages in, completion text out).</summary>
    public RepairLoop(Func<IReadOnlyList<ChatMessage>, CancellationToken, Task<string>> generate)
    {
        ArgumentNullException.ThrowIfNull(generate);
        _generate = generate;
    }

    /// <summary>Runs at most 1 + <paramref name="maxRepairs"/> generations; never throws for invalid output.</summary>
    public async Task<RepairResult> RunAsync(
        IReadOnlyList<ChatMessage> messages, JsonSchemaValidator validator, int maxRepairs, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync<string>(messages, validator, maxRepairs, async (m, ct) => await _generate(m, ct).ConfigureAwait(false), text => text, cancellationToken)
            .ConfigureAwait(false);
        return new RepairResult(result.Answer, result.Valid, result.RepairCount, result.AttemptErrors);
    }

    /// <summary>
    /// The loop over any kind of answer (text plus whatever the caller keeps: tokens, usage). At most
    /// 1 + <paramref name="maxRepairs"/> calls of <paramref name="generate"/>. The loop ends early, with
    /// the last answer, when <paramref name="generate"/> returns null (a repair could not run, e.g. no room
    /// left) or when <paramref name="textOf"/> returns null (the answer cannot be validated, e.g. its
    /// generation failed). The first call must return an answer. Never throws for invalid output.
    /// </summary>
    public static async Task<RepairResult<TAnswer>> RunAsync<TAnswer>(
        IReadOnlyList<ChatMessage> messages,
        JsonSchemaValidator validator,
        int maxRepairs,
        Func<IReadOnlyList<ChatMessage>, CancellationToken, Task<TAnswer?>> generate,
        Func<TAnswer, string?> textOf,
        CancellationToken cancellationToken = default)
        where TAnswer : class
    {
        ArgumentNullException.ThrowIfNull(validator);
        return await RunAsync(messages, validator.Validate, RepairPrompt, maxRepairs, generate, textOf, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The loop with its own judge and instruction: <paramref name="validate"/> lists an answer's errors (none = valid),
    /// <paramref name="repairPrompt"/> writes the user turn that asks for a corrected answer. Otherwise as the overload
    /// over a schema validator.
    /// </summary>
    public static async Task<RepairResult<TAnswer>> RunAsync<TAnswer>(
        IReadOnlyList<ChatMessage> messages,
        Func<string, IReadOnlyList<JsonValidationError>> validate,
        Func<IReadOnlyList<JsonValidationError>, string> repairPrompt,
        int maxRepairs,
        Func<IReadOnlyList<ChatMessage>, CancellationToken, Task<TAnswer?>> generate,
        Func<TAnswer, string?> textOf,
        CancellationToken cancellationToken = default)
        where TAnswer : class
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(validate);
        ArgumentNullException.ThrowIfNull(repairPrompt);
        ArgumentNullException.ThrowIfNull(generate);
        ArgumentNullException.ThrowIfNull(textOf);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRepairs);
        var conversation = new List<ChatMessage>(messages);
        var attempts = new List<IReadOnlyList<JsonValidationError>>();
        TAnswer? last = null;
        for (var repair = 0; ; repair++)
        {
            var answer = await generate(conversation, cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                return last is null
                    ? throw new InvalidOperationException("the first generation produced no answer")
                    : new RepairResult<TAnswer>(last, false, repair - 1, attempts);
            }

            last = answer;
            if (textOf(answer) is not { } text)
            {
                return new RepairResult<TAnswer>(answer, false, repair, attempts);
            }

            var errors = validate(text);
            attempts.Add(errors);
            if (errors.Count == 0 || repair == maxRepairs)
            {
                return new RepairResult<TAnswer>(answer, errors.Count == 0, repair, attempts);
            }

            conversation.Add(new ChatMessage("assistant", text));
            conversation.Add(new ChatMessage("user", repairPrompt(errors)));
        }
    }

    /// <summary>The user turn asking for a corrected object.</summary>
    public static string RepairPrompt(IReadOnlyList<JsonValidationError> errors) =>
        RepairPrompt(errors, "The JSON object above", "Reply with the corrected JSON object only, no other text.");

    /// <summary>The user turn asking for a corrected answer: <paramref name="subject"/> is invalid for these reasons; then <paramref name="instruction"/>.</summary>
    public static string RepairPrompt(IReadOnlyList<JsonValidationError> errors, string subject, string instruction)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var sb = new StringBuilder(subject).Append(" is invalid for the following reasons:\n");
        foreach (var e in errors.Take(20))
        {
            sb.Append("- ").Append(e.Path).Append(": ").Append(e.Message).Append('\n');
        }

        if (errors.Count > 20)
        {
            sb.Append("- (").Append(errors.Count - 20).Append(" more)\n");
        }

        sb.Append(instruction);
        return sb.ToString();
    }
}
