using System.Text.Json;
using Flywheel.Serving.Backend;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>
/// How a <c>tool_choice: auto</c> answer is judged, for its report and for the repair loop of whole responses. Text
/// (an answer that begins no call in the family's format) is valid as it stands. An answer that begins a call must
/// parse into calls whose arguments validate against their function's schema; one that begins a call and does not
/// parse (cut by a stop string, or by max_tokens where the vocabulary cannot bound the call) is a broken call, not
/// text. Stateless and thread-safe.
/// </summary>
internal static class AutoCallCheck
{
    /// <summary>The answer's errors: none when it is text or every call is valid.</summary>
    public static IReadOnlyList<JsonValidationError> Errors(string text, ToolPlan plan)
    {
        if (!ToolCallParser.StartsCall(text, plan.Format))
        {
            return [];
        }

        var calls = ToolCallParser.Parse(text, plan.Format).Calls;
        return calls.Count == 0 ? [Unreadable(plan.Format)] : Errors(calls, plan);
    }

    /// <summary>Each parsed call checked against its function's schema; paths start with <c>tool_calls[i]</c>.</summary>
    public static IReadOnlyList<JsonValidationError> Errors(IReadOnlyList<(string Name, string Arguments)> calls, ToolPlan plan)
    {
        if (plan.Call is null)
        {
            return [];
        }

        var errors = new List<JsonValidationError>();
        for (var i = 0; i < calls.Count; i++)
        {
            var neutral = $"{{\"name\":{JsonSerializer.Serialize(calls[i].Name)},\"arguments\":{calls[i].Arguments}}}";
            errors.AddRange(plan.Call.Validator.Validate(neutral).Select(e => new JsonValidationError($"tool_calls[{i}]: {e.Path}", e.Message)));
        }

        return errors;
    }

    /// <summary>The error of an answer that began a call and did not finish a readable one.</summary>
    public static JsonValidationError Unreadable(ToolCallFormat format) => new("tool_calls", format == ToolCallFormat.HermesTags
        ? "the answer opened a <tool_call> whose content is not a complete {\"name\": ..., \"arguments\": {...}} object"
        : "the answer began a call that is not complete JSON calls of the form {\"name\": ..., \"parameters\": {...}}");

    /// <summary>The user turn that asks for the corrected call, in the family's own format.</summary>
    public static string RepairPrompt(IReadOnlyList<JsonValidationError> errors, ToolCallFormat format) =>
        RepairLoop.RepairPrompt(errors, "The tool call above", format == ToolCallFormat.HermesTags
            ? "Reply with the corrected call only, as <tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>"
            : "Reply with the corrected call only, as {\"name\": <function-name>, \"parameters\": <args-json-object>}");
}
