using System.Globalization;
using Flywheel.LoadGen.Arrival;

namespace Flywheel.LoadGen.Workload;

/// <summary>
/// A distribution of token counts (prompt or output lengths). Every sample is an integer in
/// [<see cref="Min"/>, <see cref="Max"/>], with <see cref="Min"/> at least 1.
/// </summary>
public abstract record LengthDistribution
{
    /// <summary>Smallest value a sample can take (>= 1).</summary>
    public abstract int Min { get; }

    /// <summary>Largest value a sample can take.</summary>
    public abstract int Max { get; }

    /// <summary>Draws one length.</summary>
    public abstract int Sample(Random rng);

    /// <summary>The same shape with its sizes multiplied by <paramref name="factor"/> (rounded, at least 1); spreads in log space are kept.</summary>
    public abstract LengthDistribution Scale(double factor);

    /// <summary>A compact description for reports, e.g. "uniform(64..256)".</summary>
    public abstract string Describe();

    private protected static int ScaleValue(int value, double factor) =>
        value >= int.MaxValue / 2 ? value : Math.Max(1, (int)Math.Round(value * factor));

    private protected static int Clip(double value, int min, int max) =>
        (int)Math.Clamp(Math.Round(value), min, max);

    private protected static string F(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}

/// <summary>Always the same length.</summary>
public sealed record FixedLength(int Value) : LengthDistribution
{
    public override int Min => Value;
    public override int Max => Value;
    public override int Sample(Random rng) => Value;
    public override LengthDistribution Scale(double factor) => new FixedLength(ScaleValue(Value, factor));
    public override string Describe() => $"fixed({Value})";
}

/// <summary>Uniform over the integers [Min, Max], both ends included.</summary>
public sealed record UniformLength(int Low, int High) : LengthDistribution
{
    public override int Min => Low;
    public override int Max => High;
    public override int Sample(Random rng) => rng.Next(Low, High + 1);
    public override LengthDistribution Scale(double factor)
    {
        var low = ScaleValue(Low, factor);
        return new UniformLength(low, Math.Max(low, ScaleValue(High, factor)));
    }
    public override string Describe() => $"uniform({Low}..{High})";
}

/// <summary>Normal with the given mean and standard deviation, rounded and clipped to [Low, High].</summary>
public sealed record ClippedNormalLength(double Mean, double StdDev, int Low, int High) : LengthDistribution
{
    public override int Min => Low;
    public override int Max => High;
    public override int Sample(Random rng) => Clip(Mean + StdDev * RandomSampling.StandardNormal(rng), Low, High);
    public override LengthDistribution Scale(double factor)
    {
        var low = ScaleValue(Low, factor);
        return new ClippedNormalLength(Mean * factor, StdDev * factor, low, Math.Max(low, ScaleValue(High, factor)));
    }
    public override string Describe() => $"normal(mean {F(Mean)}, sd {F(StdDev)}, {Low}..{High})";
}

/// <summary>
/// Log-normal: exp(N(ln Median, Sigma²)), rounded and clipped to [Low, High]. Real prompt and answer
/// lengths are roughly log-normal (a long right tail), which is why this shape is offered.
/// </summary>
public sealed record LogNormalLength(double Median, double Sigma, int Low, int High) : LengthDistribution
{
    public override int Min => Low;
    public override int Max => High;
    public override int Sample(Random rng) =>
        Clip(Median * Math.Exp(Sigma * RandomSampling.StandardNormal(rng)), Low, High);
    public override LengthDistribution Scale(double factor)
    {
        var low = ScaleValue(Low, factor);
        return new LogNormalLength(Median * factor, Sigma, low, Math.Max(low, ScaleValue(High, factor)));
    }
    public override string Describe() => $"lognormal(median {F(Median)}, sigma {F(Sigma)}, {Low}..{High})";
}
