using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Workload;

public sealed class LengthDistributionTests
{
    private static int[] Draw(LengthDistribution d, int count = 20_000)
    {
        var rng = new Random(3);
        return Enumerable.Range(0, count).Select(_ => d.Sample(rng)).ToArray();
    }

    [Fact]
    public void Uniform_covers_both_ends_and_nothing_outside()
    {
        var samples = Draw(new UniformLength(5, 9));
        Assert.Equal([5, 6, 7, 8, 9], samples.Distinct().Order());
    }

    [Fact]
    public void Normal_is_centred_and_clipped()
    {
        var samples = Draw(new ClippedNormalLength(100, 20, 90, 130));
        Assert.All(samples, s => Assert.InRange(s, 90, 130));
        Assert.Contains(90, samples); // a fair share lies below the lower clip
        var unclipped = Draw(new ClippedNormalLength(100, 20, 1, 1000));
        Assert.InRange(unclipped.Average(), 99, 101);
    }

    [Fact]
    public void Lognormal_has_its_median()
    {
        var samples = Draw(new LogNormalLength(200, 0.5, 1, 100_000)).Order().ToArray();
        Assert.InRange(samples[samples.Length / 2], 194, 206);
        Assert.True(samples.Average() > 210); // right tail: mean = median * e^(sigma²/2) ≈ 227
    }

    [Fact]
    public void Scaling_keeps_shape_and_minimum_one()
    {
        Assert.Equal(new UniformLength(48, 96), new UniformLength(768, 1536).Scale(1.0 / 16));
        Assert.Equal(new FixedLength(1), new FixedLength(3).Scale(0.01));
        var scaled = (LogNormalLength)new LogNormalLength(512, 0.5, 128, 1024).Scale(0.5);
        Assert.Equal((256.0, 0.5, 64, 512), (scaled.Median, scaled.Sigma, scaled.Low, scaled.High));
    }

    [Theory]
    [InlineData("prompt-heavy")]
    [InlineData("balanced")]
    [InlineData("generation-heavy")]
    [InlineData("structured")]
    public void Every_mix_fits_its_context_at_every_scale(string mix)
    {
        foreach (var context in new[] { 128, 512, 2048, 8192 })
        {
            Assert.True(BuiltInMixes.TryGet(mix, context, out var scenario));
            Assert.True(scenario.PromptTokens.Max + scenario.OutputTokens.Max <= context - WorkloadGenerator.TemplateReserve(context),
                $"{mix} at {context}: {scenario.Describe()}");
        }
        Assert.False(BuiltInMixes.TryGet("nope", 2048, out _));
    }
}
