using System.Text;
using Flywheel.Templates;

namespace Flywheel.Structured;

/// <summary>What a <see cref="RepairLoop"/> run produced.</summary>
/// <param name="Text">The last generated text (valid when <paramref name="Valid"/>).</param>
/// <param name="Valid">Whether <paramref name="Text"/> parses and validates against the schema.</param>
/// <param name="RepairCount">Repair turns used (0 = the first answer was valid or no repairs allowed).</param>
/// <param name="AttemptErrors">Validation errors of each attempt, in order; the last is empty when valid.</param>
public sealed record RepairResult(string Text, bool Valid, int RepairCount, IReadOnlyList<IReadOnlyList<JsonValidationError>> AttemptErrors);

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
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(validator);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRepairs);
        var conversation = new List<ChatMessage>(messages);
        var attempts = new List<IReadOnlyList<JsonValidationError>>();
        for (var repair = 0; ; repair++)
        {
            var text = await _generate(conversation, cancellationToken).ConfigureAwait(false);
            var errors = validator.Validate(text);
            attempts.Add(errors);
            if (errors.Count == 0 || repair == maxRepairs)
            {
                return new RepairResult(text, errors.Count == 0, repair, attempts);
            }

            conversation.Add(new ChatMessage("assistant", text));
            conversation.Add(new ChatMessage("user", RepairPrompt(errors)));
        }
    }

    /// <summary>The user turn asking for a corrected object.</summary>
    public static string RepairPrompt(IReadOnlyList<JsonValidationError> errors)
    {
        var sb = new StringBuilder("The JSON object above is invalid for the following reasons:\n");
        foreach (var e in errors.Take(20))
        {
            sb.Append("- ").Append(e.Path).Append(": ").Append(e.Message).Append('\n');
        }

        if (errors.Count > 20)
        {
            sb.Append("- (").Append(errors.Count - 20).Append(" more)\n");
        }

        sb.Append("Reply with the corrected JSON object only, no other text.");
        return sb.ToString();
    }
}
