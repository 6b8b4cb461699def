namespace Flywheel.Cli.Bench;

/// <summary>A workload mix: prompt and output lengths (fractions of the context, ±25% jitter, seeded).</summary>
internal sealed record BenchMix(string Name, double PromptFraction, double OutputFraction)
{
    public static readonly BenchMix[] All =
    [
        new("prompt-heavy", 1.0 / 4, 1.0 / 128),
        new("balanced", 1.0 / 8, 1.0 / 16),
        new("generation-heavy", 1.0 / 64, 1.0 / 8),
    ];

    public static BenchMix Parse(string name) =>
        All.FirstOrDefault(m => m.Name == name) ?? throw new UsageException($"unknown mix '{name}' (prompt-heavy, balanced, generation-heavy)");

    /// <summary>(prompt length, output length) per request, deterministic for a seed.</summary>
    public IReadOnlyList<(int Prompt, int Output)> Requests(int count, int context, int seed)
    {
        var random = new Random(seed);
        int Jitter(double mean) => Math.Max(1, (int)Math.Round(mean * (0.75 + (random.NextDouble() * 0.5))));
        return Enumerable.Range(0, count).Select(_ =>
        {
            var prompt = Jitter(context * PromptFraction);
            var output = Math.Min(Jitter(context * OutputFraction), context - prompt - 1);
            return (prompt, output);
        }).ToList();
    }
}

/// <summary>
/// One line of the report (also a JSON record). With repeats, every figure is the median over the
/// repeats of that (mix, policy), each divided by its own ceiling; <c>efficiency_runs</c> keeps each repeat's.
/// </summary>
internal sealed record BenchRecord(
    string mix,
    string policy,
    int requests,
    double output_tokens_per_s,
    double total_tokens_per_s,
    double ceiling_tokens_per_s,
    double ttft_p50_s,
    double ttft_p99_s,
    double itl_p50_s,
    double itl_p99_s,
    double e2e_p50_s,
    double e2e_p99_s)
{
    /// <summary>Total tokens/s over the ceiling.</summary>
    public double efficiency { get; init; } = ceiling_tokens_per_s > 0 ? total_tokens_per_s / ceiling_tokens_per_s : 0;

    public int repeats { get; init; } = 1;

    public double[] efficiency_runs { get; init; } = [];

    /// <summary>The median of each figure over <paramref name="runs"/> (the same mix and policy, repeated).</summary>
    public static BenchRecord Median(IReadOnlyList<BenchRecord> runs)
    {
        double M(Func<BenchRecord, double> f) => BenchRunner.Percentile(runs.Select(f).ToArray(), 50);
        var first = runs[0];
        return new BenchRecord(
            first.mix, first.policy, first.requests,
            M(r => r.output_tokens_per_s), M(r => r.total_tokens_per_s), M(r => r.ceiling_tokens_per_s),
            M(r => r.ttft_p50_s), M(r => r.ttft_p99_s), M(r => r.itl_p50_s), M(r => r.itl_p99_s), M(r => r.e2e_p50_s), M(r => r.e2e_p99_s))
        {
            efficiency = M(r => r.efficiency),
            repeats = runs.Count,
            efficiency_runs = [.. runs.Select(r => Math.Round(r.efficiency, 4))],
        };
    }
}
