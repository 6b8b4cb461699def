namespace Flywheel.LoadGen.Workload;

/// <summary>One request as planned, before it is sent.</summary>
/// <param name="Index">Position in the run (0-based across all phases); also the seed of its content.</param>
/// <param name="Prompt">User message (chat) or prompt (completions).</param>
/// <param name="PromptTokenCount">Tokens in <paramref name="Prompt"/> by the generator's counter (no template).</param>
/// <param name="MaxTokens">Planned output tokens, sent as max_tokens.</param>
/// <param name="SchemaJson">JSON Schema of the response_format when structured, else null.</param>
/// <param name="IgnoreEos">Whether to send ignore_eos (never for structured requests).</param>
/// <param name="Model">The model this request names (from <c>--models</c>); null sends the run's single model.</param>
public sealed record RequestPlan(
    int Index,
    ApiEndpoint Endpoint,
    bool Stream,
    string Prompt,
    int PromptTokenCount,
    int MaxTokens,
    string? SchemaJson,
    double? Temperature,
    bool IgnoreEos = true,
    string? Model = null)
{
    public bool IsStructured => SchemaJson is not null;
}
