namespace Flywheel.LoadGen.Workload;

/// <summary>Which OpenAI endpoint requests go to.</summary>
public enum ApiEndpoint
{
    /// <summary>POST /v1/chat/completions with one user message.</summary>
    Chat,

    /// <summary>POST /v1/completions with a plain prompt.</summary>
    Completions,
}

/// <summary>
/// What the load consists of: request shapes, not their timing. Built-in mixes are scenarios
/// (<see cref="BuiltInMixes"/>); users write their own as JSON (<see cref="ScenarioFile"/>).
/// </summary>
public sealed record Scenario
{
    /// <summary>Name shown in reports.</summary>
    public required string Name { get; init; }

    public ApiEndpoint Endpoint { get; init; } = ApiEndpoint.Chat;

    /// <summary>Whether requests stream (SSE). Without streaming there is no TTFT or ITL: TTFT is reported as the whole latency, as vLLM does.</summary>
    public bool Stream { get; init; } = true;

    /// <summary>Planned prompt length in tokens (the user content, before any chat template).</summary>
    public required LengthDistribution PromptTokens { get; init; }

    /// <summary>Planned output length in tokens, sent as max_tokens with ignore_eos.</summary>
    public required LengthDistribution OutputTokens { get; init; }

    /// <summary>Share of requests in [0, 1] that carry a json_schema response_format.</summary>
    public double StructuredShare { get; init; }

    /// <summary>The JSON Schema for structured requests, as JSON text; null means <see cref="BuiltInMixes.DefaultSchemaJson"/>.</summary>
    public string? SchemaJson { get; init; }

    /// <summary>Sampling temperature to send; null sends none (server default).</summary>
    public double? Temperature { get; init; }

    /// <summary>
    /// Send <c>ignore_eos: true</c> (a vLLM extension, honoured by Flywheel) so outputs run to max_tokens.
    /// Turn off for servers that reject unknown fields; outputs may then end early.
    /// </summary>
    public bool IgnoreEos { get; init; } = true;

    /// <summary>One line for reports.</summary>
    public string Describe() =>
        $"{Name}: {Endpoint.ToString().ToLowerInvariant()}{(Stream ? ", streaming" : "")}, prompt {PromptTokens.Describe()}, " +
        $"output {OutputTokens.Describe()}" + (StructuredShare > 0 ? $", {StructuredShare * 100:0.#}% structured" : "");
}
