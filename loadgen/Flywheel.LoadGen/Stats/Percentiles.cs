namespace Flywheel.LoadGen.Stats;

/// <summary>Percentiles by linear interpolation between closest ranks (NumPy's default, which vLLM's benchmark uses).</summary>
public static class Percentiles
{
    /// <summary>
    /// The <paramref name="percent"/>-th percentile (0..100) of values already sorted ascending:
    /// rank = p/100 * (n - 1), interpolated between the neighbouring values. NaN when empty.
    /// </summary>
    public static double OfSorted(ReadOnlySpan<double> sorted, double percent)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(percent, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(percent, 100);
        if (sorted.IsEmpty)
        {
            return double.NaN;
        }
        var rank = percent / 100.0 * (sorted.Length - 1);
        var below = (int)Math.Floor(rank);
        var above = Math.Min(below + 1, sorted.Length - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }

    /// <summary>The percentile of unsorted values (sorts a copy).</summary>
    public static double Of(IEnumerable<double> values, double percent)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return OfSorted(sorted, percent);
    }
}

/// <summary>Mean and percentiles of one latency, in seconds. All NaN (and count 0) when there were no samples.</summary>
public sealed record LatencyStats(int Count, double Mean, double P50, double P90, double P99)
{
    public static LatencyStats Empty { get; } = new(0, double.NaN, double.NaN, double.NaN, double.NaN);

    public static LatencyStats From(IEnumerable<double> values)
    {
        var sorted = values.ToArray();
        if (sorted.Length == 0)
        {
            return Empty;
        }
        Array.Sort(sorted);
        return new LatencyStats(
            sorted.Length,
            sorted.Average(),
            Percentiles.OfSorted(sorted, 50),
            Percentiles.OfSorted(sorted, 90),
            Percentiles.OfSorted(sorted, 99));
    }
}
