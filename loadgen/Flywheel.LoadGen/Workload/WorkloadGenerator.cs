namespace Flywheel.LoadGen.Workload;

/// <summary>
/// Turns a <see cref="Scenario"/> into concrete requests. Request <c>i</c> depends only on the seed
/// and <c>i</c>, so runs are reproducible whatever order requests are issued in. Thread-safe.
/// </summary>
public sealed class WorkloadGenerator
{
    // No punctuation: with the words that follow it is exactly one token per word in the Llama 3
    // and Qwen 3 tokenizers, so the approximate count stays exact for structured prompts too.
    private const string StructuredPreamble =
        "Reply with only a JSON object that matches the given schema and describes a task ticket for these notes";

    private readonly PromptBuilder _prompts;

    /// <param name="counter">Counts tokens for exact prompt lengths; null uses <see cref="ApproximateTokenCounter"/>.</param>
    /// <param name="maxContextTokens">When set, prompt and output are clipped so that both plus a template reserve fit.</param>
    /// <param name="models">Spreads requests over several model names; null leaves the model to the client.</param>
    public WorkloadGenerator(Scenario scenario, int seed, ITokenCounter? counter = null, int? maxContextTokens = null, ModelMix? models = null)
    {
        Models = models;
        Scenario = scenario;
        Seed = seed;
        MaxContextTokens = maxContextTokens;
        _prompts = new PromptBuilder(counter ?? ApproximateTokenCounter.Instance);
    }

    public Scenario Scenario { get; }

    public int Seed { get; }

    public int? MaxContextTokens { get; }

    public ModelMix? Models { get; }

    /// <summary>The least max_tokens a structured request is sent with (its answer usually ends well before).</summary>
    public const int StructuredMaxTokens = 256;

    /// <summary>Tokens kept free for a chat template and special tokens when fitting a context of the given size.</summary>
    public static int TemplateReserve(int maxContextTokens) => Math.Max(8, maxContextTokens / 32);

    /// <summary>The request at position <paramref name="index"/>.</summary>
    public RequestPlan Create(int index)
    {
        var rng = new Random(MixSeed(Seed, index));
        var promptTokens = Scenario.PromptTokens.Sample(rng);
        var outputTokens = Scenario.OutputTokens.Sample(rng);
        if (MaxContextTokens is { } context)
        {
            var room = Math.Max(2, context - TemplateReserve(context));
            promptTokens = Math.Min(promptTokens, room - 1);
            outputTokens = Math.Clamp(outputTokens, 1, room - promptTokens);
        }

        var structured = Scenario.StructuredShare > 0 && rng.NextDouble() < Scenario.StructuredShare;
        if (structured)
        {
            // A structured answer ends where its JSON does, so max_tokens is only its cap; a cap below the
            // schema's shortest answer is refused by servers that guarantee a complete answer (Flywheel
            // does), so structured requests get room for the schema, within the context when one is set.
            var cap = Math.Max(outputTokens, StructuredMaxTokens);
            outputTokens = MaxContextTokens is { } limit ? Math.Max(outputTokens, Math.Min(cap, limit - TemplateReserve(limit) - promptTokens)) : cap;
        }

        var (prompt, count) = _prompts.Build(promptTokens, rng, structured ? StructuredPreamble : null);
        return new RequestPlan(
            index,
            Scenario.Endpoint,
            Scenario.Stream,
            prompt,
            count,
            outputTokens,
            structured ? Scenario.SchemaJson ?? BuiltInMixes.DefaultSchemaJson : null,
            Scenario.Temperature,
            Scenario.IgnoreEos && !structured,
            Models?.Pick(Seed, index));
    }

    // SplitMix64 finaliser over (seed, index): neighbouring indices get unrelated streams, and
    // unlike HashCode.Combine the result is the same in every process.
    internal static int MixSeed(int seed, int index)
    {
        var z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }
}
