namespace Flywheel.LoadGen.Workload;

/// <summary>
/// The named workloads of <c>--mix</c>. Sizes are defined for a 2048-token context and scaled
/// linearly to <c>--max-context</c>; at every scale the largest prompt plus the largest output
/// leaves room for a chat template (see <see cref="WorkloadGenerator.TemplateReserve"/>).
/// </summary>
public static class BuiltInMixes
{
    /// <summary>The context length the sizes below are written for.</summary>
    public const int ReferenceContextTokens = 2048;

    /// <summary>Names accepted by <c>--mix</c>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["prompt-heavy", "balanced", "generation-heavy", "structured"];

    /// <summary>
    /// The schema used by structured requests unless a scenario gives its own: a flat object with
    /// the keywords every JSON-schema-constrained decoder supports (type, properties, required,
    /// enum, items, additionalProperties).
    /// </summary>
    public const string DefaultSchemaJson = """
        {"type":"object","properties":{"id":{"type":"integer"},"title":{"type":"string"},"priority":{"type":"string","enum":["low","medium","high"]},"tags":{"type":"array","items":{"type":"string"}},"done":{"type":"boolean"}},"required":["id","title","priority","tags","done"],"additionalProperties":false}
        """;

    /// <summary>Returns the mix scaled to <paramref name="maxContextTokens"/>, or false for an unknown name.</summary>
    public static bool TryGet(string name, int maxContextTokens, out Scenario scenario)
    {
        Scenario? reference = name switch
        {
            // Summarisation / RAG: long prompts, short answers; prefill dominates.
            "prompt-heavy" => new Scenario
            {
                Name = name,
                PromptTokens = new UniformLength(768, 1536),
                OutputTokens = new UniformLength(16, 64),
            },
            // Chat: medium prompts with a long tail, medium answers.
            "balanced" => new Scenario
            {
                Name = name,
                PromptTokens = new LogNormalLength(512, 0.5, 128, 1024),
                OutputTokens = new ClippedNormalLength(256, 64, 64, 512),
            },
            // Writing / code generation: short prompts, long answers; decode dominates.
            "generation-heavy" => new Scenario
            {
                Name = name,
                PromptTokens = new UniformLength(32, 128),
                OutputTokens = new UniformLength(512, 1024),
            },
            // Tool calls / extraction: half the requests constrained by a JSON schema.
            "structured" => new Scenario
            {
                Name = name,
                PromptTokens = new LogNormalLength(256, 0.5, 64, 768),
                OutputTokens = new UniformLength(128, 384),
                StructuredShare = 0.5,
            },
            _ => null,
        };
        if (reference is null)
        {
            scenario = null!;
            return false;
        }

        var factor = (double)maxContextTokens / ReferenceContextTokens;
        scenario = reference with
        {
            PromptTokens = reference.PromptTokens.Scale(factor),
            OutputTokens = reference.OutputTokens.Scale(factor),
        };
        return true;
    }
}
