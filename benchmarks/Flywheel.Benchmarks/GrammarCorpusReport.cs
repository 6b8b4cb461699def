namespace Flywheel.Benchmarks;

/// <summary>
/// Prints a corpus walk's masks: the summary the targets are stated in (mean, p50, p99, max), then
/// where the time goes: by kind (the budget's tight masks or not; any state's cache entry computed by
/// the mask or all hits), by phase (cache lookups and misses, ResolveUncertain, the budget's
/// filtering), and the slowest masks and schemas.
/// </summary>
internal static class GrammarCorpusReport
{
    public static void Print(string label, List<MaskSample> samples, ulong maskHash)
    {
        if (samples.Count == 0)
        {
            return;
        }

        var total = samples.Sum(s => s.Microseconds);
        Console.WriteLine($"{label} cold mask: {Summary(samples)} over {samples.Count} masks; mask hash {maskHash:x16}");
        var cpu = samples.Select(s => s.CpuMicroseconds).Order().ToList();
        Console.WriteLine($"  thread CPU time (waits for a core left out): mean {cpu.Average():F1} us, p50 {Percentile(cpu, 0.5):F1} us, p99 {Percentile(cpu, 0.99):F1} us");
        Console.WriteLine($"  {"kind",-22} {"masks",6} {"share",6} {"mean us",9} {"p99 us",9} {"max us",8} {"time share",10}");
        foreach (var (name, pick) in new (string, Func<MaskSample, bool>)[]
        {
            ("loose, cache hits", s => !s.Tight && s.CacheMisses == 0),
            ("loose, cache miss", s => !s.Tight && s.CacheMisses > 0),
            ("tight, cache hits", s => s.Tight && s.CacheMisses == 0),
            ("tight, cache miss", s => s.Tight && s.CacheMisses > 0),
        })
        {
            var part = samples.Where(pick).ToList();
            if (part.Count == 0)
            {
                continue;
            }

            var sorted = part.Select(s => s.Microseconds).Order().ToList();
            Console.WriteLine($"  {name,-22} {part.Count,6} {100.0 * part.Count / samples.Count,5:F0}% {sorted.Average(),9:F1} {Percentile(sorted, 0.99),9:F1} {sorted[^1],8:F0} {100 * sorted.Sum() / total,9:F0}%");
        }

        var (cache, resolve, budget) = (samples.Sum(s => s.CacheMicroseconds), samples.Sum(s => s.ResolveMicroseconds), samples.Sum(s => s.BudgetMicroseconds));
        Console.WriteLine($"  by phase: cache lookups and misses {100 * cache / total:F0}%, ResolveUncertain {100 * resolve / total:F0}%, budget filtering {100 * budget / total:F0}%, rest {100 * (total - cache - resolve - budget) / total:F0}%");
        var tight = samples.Where(s => s.Tight).ToList();
        if (tight.Count > 0)
        {
            // Where the budget filtering goes: the tight masks by how many tokens they read one by one.
            var buckets = new[] { (0, 100), (100, 1_000), (1_000, 10_000), (10_000, int.MaxValue) }
                .Select(b => (Range: b, Masks: tight.Where(s => s.Pending >= b.Item1 && s.Pending < b.Item2).ToList()))
                .Where(b => b.Masks.Count > 0)
                .Select(b => $"{(b.Range.Item2 == int.MaxValue ? $">= {b.Range.Item1}" : $"< {b.Range.Item2}")}: {b.Masks.Count} masks, "
                    + $"budget {b.Masks.Average(s => s.BudgetMicroseconds):F1} us each, tight test {b.Masks.Average(s => s.TightTestMicroseconds):F1} of it "
                    + $"({100 * b.Masks.Sum(s => s.BudgetMicroseconds) / total:F0}% of the time)");
            Console.WriteLine($"  tight masks by tokens the budget read ({tight.Sum(s => (long)s.Pending)} in all): {string.Join("; ", buckets)}");
        }

        Console.WriteLine("  slowest masks (us: cache / resolve / budget):");
        foreach (var s in samples.OrderByDescending(s => s.Microseconds).Take(8))
        {
            Console.WriteLine($"    {s.Schema,-26} step {s.Step,3} {s.Microseconds,8:F0} us  {(s.Tight ? "tight" : "loose")}, {s.Configurations} configs, {s.CacheMisses} misses, {s.Uncertain} uncertain, {s.Pending} read by budget: {s.CacheMicroseconds:F0} / {s.ResolveMicroseconds:F0} / {s.BudgetMicroseconds:F0}");
        }

        var bySchema = samples.GroupBy(s => s.Schema).Select(g => (g.Key, Sum: g.Sum(s => s.Microseconds), P99: Percentile([.. g.Select(s => s.Microseconds).Order()], 0.99))).OrderByDescending(g => g.Sum).Take(5);
        Console.WriteLine($"  most time: {string.Join(", ", bySchema.Select(g => $"{g.Key} {100 * g.Sum / total:F0}% (p99 {g.P99:F0} us)"))}");
    }

    public static string Summary(List<MaskSample> samples)
    {
        var sorted = samples.Select(s => s.Microseconds).Order().ToList();
        return $"mean {sorted.Average():F1} us, p50 {Percentile(sorted, 0.5):F1} us, p99 {Percentile(sorted, 0.99):F1} us, max {sorted[^1]:F0} us";
    }

    private static double Percentile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * q))];
}
