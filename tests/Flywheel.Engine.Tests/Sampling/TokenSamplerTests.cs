using Flywheel.Sampling;

namespace Flywheel.Engine.Tests.Sampling;

public sealed class TokenSamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.5f, -1.0f, 0.0f];

    private static int[] Draw(SamplingParams p, int count, float[]? logits = null)
    {
        var sampler = new TokenSampler(5, p);
        return Enumerable.Range(0, count).Select(_ => sampler.Sample(logits ?? Logits).Id).ToArray();
    }

    [Fact]
    public void GreedyPicksTheLargestLogit() => Assert.All(Draw(new SamplingParams(), 5), id => Assert.Equal(1, id));

    [Fact]
    public void SameSeedSameTokensOtherSeedOtherTokens()
    {
        var p = new SamplingParams { Temperature = 1.5, Seed = 11 };
        Assert.Equal(Draw(p, 50), Draw(p, 50));
        Assert.NotEqual(Draw(p, 50), Draw(p with { Seed = 12 }, 50));
    }

    [Fact]
    public void FrequenciesFollowTheSoftmax()
    {
        var draws = Draw(new SamplingParams { Temperature = 1, Seed = 3 }, 20000);
        var z = Logits.Sum(l => Math.Exp(l));
        for (var id = 0; id < 5; id++)
        {
            var expected = Math.Exp(Logits[id]) / z;
            var observed = draws.Count(d => d == id) / 20000.0;
            Assert.True(Math.Abs(expected - observed) < 0.015, $"token {id}: expected {expected:F3}, observed {observed:F3}");
        }
    }

    [Fact]
    public void TopKTopPAndMinPRestrictTheCandidates()
    {
        Assert.All(Draw(new SamplingParams { Temperature = 2, TopK = 2, Seed = 1 }, 500), id => Assert.Contains(id, new[] { 1, 2 }));
        Assert.All(Draw(new SamplingParams { Temperature = 2, TopP = 0.05, Seed = 1 }, 200), id => Assert.Equal(1, id));
        // p(2)/p(1) = exp(-0.5) = 0.61: kept by min_p 0.5, dropped by 0.7; p(0)/p(1) = 0.14.
        Assert.All(Draw(new SamplingParams { Temperature = 1, MinP = 0.5, Seed = 1 }, 500), id => Assert.Contains(id, new[] { 1, 2 }));
        Assert.All(Draw(new SamplingParams { Temperature = 1, MinP = 0.7, Seed = 1 }, 200), id => Assert.Equal(1, id));
        Assert.Contains(2, Draw(new SamplingParams { Temperature = 1, MinP = 0.5, Seed = 1 }, 500));
    }

    [Fact]
    public void PenaltiesPushAwayFromRepeats()
    {
        // Greedy with a presence penalty larger than the 0.5 gap: 1, then 2, then 1 again (both penalized once).
        Assert.Equal([1, 2, 1], Draw(new SamplingParams { PresencePenalty = 1 }, 3));
        // Frequency penalty grows with the count.
        Assert.Equal([1, 2, 1, 2], Draw(new SamplingParams { FrequencyPenalty = 0.6 }, 4));
        // Repetition penalty applies to prompt tokens too: 3.0/2 = 1.5 < 2.5.
        var sampler = new TokenSampler(5, new SamplingParams { RepetitionPenalty = 2 }, promptIds: [1]);
        Assert.Equal(2, sampler.Sample(Logits).Id);
    }

    [Fact]
    public void LogprobsAreTheLogSoftmaxBestFirst()
    {
        var sampler = new TokenSampler(5, new SamplingParams { TopLogprobs = 5 });
        var token = sampler.Sample(Logits);
        var logZ = Math.Log(Logits.Sum(l => Math.Exp(l)));
        Assert.Equal(Logits[1] - logZ, token.Logprob, 5);
        Assert.Equal([1, 2, 0, 4, 3], token.TopLogprobs!.Select(t => t.Id));
        Assert.Equal(1.0, token.TopLogprobs!.Sum(t => Math.Exp(t.Logprob)), 4);
        Assert.Equal(2, new TokenSampler(5, new SamplingParams { TopLogprobs = 2 }).Sample(Logits).TopLogprobs!.Length);
        Assert.Null(new TokenSampler(5, new SamplingParams()).Sample(Logits).TopLogprobs);
    }

    [Fact]
    public void ValidateNamesTheField()
    {
        Assert.Empty(new SamplingParams().Validate());
        Assert.Contains(new SamplingParams { TopP = 0 }.Validate(), e => e.StartsWith("top_p", StringComparison.Ordinal));
        Assert.Contains(new SamplingParams { Temperature = -1 }.Validate(), e => e.StartsWith("temperature", StringComparison.Ordinal));
        Assert.Contains(new SamplingParams { MinP = 2 }.Validate(), e => e.StartsWith("min_p", StringComparison.Ordinal));
        Assert.Contains(new SamplingParams { RepetitionPenalty = 0 }.Validate(), e => e.StartsWith("repetition_penalty", StringComparison.Ordinal));
    }
}
