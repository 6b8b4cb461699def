using Flywheel.Serving.ResponseFormats;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>
/// What a request's tools compile to: for <c>required</c> or a named choice, the grammar of the call answer
/// (<see cref="Forced"/>, used exactly like a response_format); for <c>auto</c>, the family's call format and the
/// validator of one call (<see cref="Call"/>); for <c>none</c>, nothing but the checked definitions.
/// </summary>
/// <param name="Choice">The request's tool_choice.</param>
/// <param name="Format">How the family writes calls when it may also write text (auto).</param>
/// <param name="Forced">required / named: the neutral-form answer's compiled schema; otherwise null.</param>
/// <param name="Call">auto: the compiled schema of one neutral-form call to any tool, to validate parsed calls; otherwise null.</param>
/// <param name="FamilyCall">auto: the grammar of one call as the family writes it (Llama-3: <c>parameters</c> for <c>arguments</c>); null = <paramref name="Call"/>'s.</param>
internal sealed record ToolPlan(ToolChoice Choice, ToolCallFormat Format, CompiledFormat? Forced, CompiledFormat? Call, CompiledFormat? FamilyCall = null)
{
    /// <summary>auto: the grammar the family's call trigger enforces once a call starts.</summary>
    public JsonSchemaGrammar? TriggerGrammar => (FamilyCall ?? Call)?.Grammar;
}

/// <summary>
/// Compiles a request's tools on the response_format compiler (same pool, cache and refusal memory). The schema of
/// one call to any of the tools is always compiled: it checks every definition and validates auto's calls. Forced
/// choices also compile the answer they allow (one call, one or more, or a call to the named function). When the
/// grammar refuses a call schema, each function's parameters are compiled alone to name the one at fault
/// (<c>tools[i].function.parameters</c>, with the keyword and pointer in its own schema). Call grammars allow no
/// whitespace between tokens: arguments come out compact, as OpenAI's do, and cost fewer tokens. Thread-safe.
/// </summary>
internal sealed class ToolCompiler(ResponseFormatCompiler formats, ToolCallFormat family)
{
    /// <exception cref="RequestRejectedException">A parameters schema (or the call schema built from them) cannot be enforced.</exception>
    public async Task<ToolPlan?> CompileAsync(ApiRequest request, CancellationToken cancellationToken)
    {
        if (request.Tools.Count == 0)
        {
            return null;
        }

        var call = await CompileCallsAsync(request.Tools, ToolCallSchema.Build(request.Tools, several: false), cancellationToken).ConfigureAwait(false);
        var choice = request.ToolChoice;
        if (choice.Mode == ToolChoiceMode.None)
        {
            return new ToolPlan(choice, family, null, null);
        }

        if (choice.Mode == ToolChoiceMode.Auto)
        {
            // Llama-3 writes a call's arguments as "parameters": its trigger enforces that form (the validator reads either).
            var familyCall = family == ToolCallFormat.Llama3Json
                ? await CompileCallsAsync(request.Tools, ToolCallSchema.Build(request.Tools, several: false, argumentsKey: "parameters"), cancellationToken).ConfigureAwait(false)
                : null;
            return new ToolPlan(choice, family, null, call, familyCall);
        }

        var several = choice.Mode == ToolChoiceMode.Required && request.ParallelToolCalls;
        var forced = await CompileCallsAsync(request.Tools, ToolCallSchema.Build(ToolCallSchema.Allowed(request.Tools, choice), several), cancellationToken).ConfigureAwait(false);
        return new ToolPlan(choice, family, forced, null);
    }

    private async Task<CompiledFormat> CompileCallsAsync(IReadOnlyList<ToolDefinition> tools, string schema, CancellationToken cancellationToken)
    {
        try
        {
            return await formats.CompileAsync(Schema(schema, JsonWhitespace.Compact), cancellationToken, "tools").ConfigureAwait(false);
        }
        catch (RequestRejectedException)
        {
            // Find the function whose parameters are refused on their own; if none is, the combination is (too big).
            for (var i = 0; i < tools.Count; i++)
            {
                await formats.CompileAsync(Schema(tools[i].ParametersJson, JsonWhitespace.Bounded), cancellationToken, $"tools[{i}].function.parameters").ConfigureAwait(false);
            }

            throw;
        }
    }

    private static ResponseFormat Schema(string json, JsonWhitespace whitespace) => new(ResponseFormatKind.JsonSchema, "tool_calls", json, Whitespace: whitespace);
}
