using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Stats;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Stats;

public sealed class PercentilesTests
{
    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(50, 5.5)]
    [InlineData(90, 9.1)]
    [InlineData(99, 9.91)]
    [InlineData(100, 10.0)]
    public void Interpolates_between_closest_ranks_like_numpy(double percent, double expected)
    {
        // numpy.percentile(range(1, 11), p) with the default 'linear' method.
        var values = Enumerable.Range(1, 10).Select(i => (double)i).Reverse();
        Assert.Equal(expected, Percentiles.Of(values, percent), 9);
    }

    [Fact]
    public void Single_value_is_every_percentile_and_empty_is_nan()
    {
        Assert.Equal(42, Percentiles.Of([42.0], 99));
        Assert.True(double.IsNaN(Percentiles.Of([], 50)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentiles.Of([1.0], 101));
    }

    [Fact]
    public void Latency_stats_give_mean_and_percentiles()
    {
        var stats = LatencyStats.From([4, 1, 3, 2]);
        Assert.Equal(4, stats.Count);
        Assert.Equal(2.5, stats.Mean, 9);
        Assert.Equal(2.5, stats.P50, 9);
        Assert.Equal(3.7, stats.P90, 9);
        Assert.Equal(0, LatencyStats.From([]).Count);
    }

    [Fact]
    public void Summary_counts_goodput_under_slos_and_leaves_warmup_out()
    {
        RequestRecord Make(int index, double start, double ttft, double e2e, int tokens, bool ok = true, bool warmup = false) => new()
        {
            Index = index,
            StartSeconds = start,
            Success = ok,
            ErrorKind = ok ? null : "http_500",
            Endpoint = ApiEndpoint.Chat,
            PlannedPromptTokens = 10,
            PlannedOutputTokens = tokens,
            PromptTokens = 12,
            OutputTokens = tokens,
            TtftSeconds = ok ? ttft : null,
            E2eSeconds = e2e,
            IsWarmup = warmup,
            ContentChunkCount = tokens,
            ItlSeconds = Enumerable.Repeat((e2e - ttft) / Math.Max(1, tokens - 1), Math.Max(0, tokens - 1)).ToArray(),
        };
        var records = new[]
        {
            Make(0, 0.0, 9.0, 9.5, 11, warmup: true), // left out
            Make(1, 1.0, 0.1, 1.1, 11),               // TPOT 0.1: good
            Make(2, 1.5, 0.5, 1.5, 11),               // TTFT too slow
            Make(3, 2.0, 0.1, 3.1, 11),               // TPOT 0.3: too slow
            Make(4, 2.5, 0.0, 0.5, 0, ok: false),     // failed, ends at 3.0
        };

        var summary = RunSummary.Compute(records, new SloOptions(TtftSeconds: 0.2, ItlSeconds: 0.2));

        Assert.Equal(4, summary.RequestCount);
        Assert.Equal(3, summary.SuccessCount);
        Assert.Equal(1, summary.WarmupCount);
        Assert.Equal(4.1, summary.DurationSeconds, 9); // from 1.0 to 3.1 + 2.0
        Assert.Equal(3 / 4.1, summary.RequestsPerSecond, 9);
        Assert.Equal(33 / 4.1, summary.OutputTokensPerSecond, 9);
        Assert.Equal(1 / 4.1, summary.GoodputRequestsPerSecond!.Value, 9);
        Assert.Equal(0.25, summary.SloAttainment!.Value, 9);
        Assert.Equal(1, summary.Errors["http_500"]);
        Assert.Equal(30, summary.Itl.Count);
        Assert.Equal(0.1, summary.Tpot.P50, 9);
    }
}
