using Flywheel.LoadGen.Arrival;

namespace Flywheel.LoadGen.Tests.Arrival;

public sealed class ArrivalProcessTests
{
    private const int SampleCount = 40_000;

    [Theory]
    [InlineData(ArrivalKind.Poisson, 1.0)]
    [InlineData(ArrivalKind.Gamma, 0.5)]
    [InlineData(ArrivalKind.Gamma, 4.0)]
    public void Mean_gap_is_one_over_rate_and_spread_follows_the_shape(ArrivalKind kind, double burstiness)
    {
        var process = ArrivalProcess.Create(kind, ratePerSecond: 8, burstiness, seed: 7);
        var gaps = Enumerable.Range(0, SampleCount).Select(_ => process.NextIntervalSeconds()).ToArray();

        var mean = gaps.Average();
        var variance = gaps.Sum(g => (g - mean) * (g - mean)) / (gaps.Length - 1);
        Assert.InRange(mean, 0.125 * 0.97, 0.125 * 1.03);
        // Gamma(shape k): squared coefficient of variation is 1/k (1 for Poisson).
        Assert.InRange(variance / (mean * mean), 1 / burstiness * 0.9, 1 / burstiness * 1.1);
        Assert.All(gaps, g => Assert.True(g >= 0));
    }

    [Fact]
    public void Constant_gaps_are_exact_and_infinite_rate_sends_at_once()
    {
        var constant = ArrivalProcess.Create(ArrivalKind.Constant, 4, 1, seed: 1);
        Assert.All(Enumerable.Range(0, 10), _ => Assert.Equal(0.25, constant.NextIntervalSeconds()));
        var burst = ArrivalProcess.Create(ArrivalKind.Poisson, double.PositiveInfinity, 1, seed: 1);
        Assert.Equal(0, burst.NextIntervalSeconds());
    }

    [Fact]
    public void Same_seed_gives_same_gaps()
    {
        var a = ArrivalProcess.Create(ArrivalKind.Gamma, 3, 0.7, seed: 42);
        var b = ArrivalProcess.Create(ArrivalKind.Gamma, 3, 0.7, seed: 42);
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => a.NextIntervalSeconds()), Enumerable.Range(0, 50).Select(_ => b.NextIntervalSeconds()));
    }

    [Fact]
    public void Rejects_non_positive_rate_and_burstiness()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ArrivalProcess.Create(ArrivalKind.Poisson, 0, 1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ArrivalProcess.Create(ArrivalKind.Gamma, 1, 0, 0));
    }
}
