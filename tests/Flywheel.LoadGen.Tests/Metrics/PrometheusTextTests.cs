using Flywheel.LoadGen.Metrics;

namespace Flywheel.LoadGen.Tests.Metrics;

public sealed class PrometheusTextTests
{
    private const string Before = """
        # HELP flywheel_generation_tokens_total Number of generation tokens processed.
        # TYPE flywheel_generation_tokens_total counter
        flywheel_generation_tokens_total{model_name="m"} 100
        flywheel_request_success_total{finish_reason="stop",model_name="m"} 3
        flywheel_request_success_total{finish_reason="length",model_name="m"} 2
        flywheel_time_to_first_token_seconds_bucket{le="0.1",model_name="m"} 4
        flywheel_time_to_first_token_seconds_bucket{le="+Inf",model_name="m"} 5
        flywheel_time_to_first_token_seconds_sum{model_name="m"} 1.5
        flywheel_time_to_first_token_seconds_count{model_name="m"} 5
        """;

    private const string After = """
        flywheel_generation_tokens_total{model_name="m"} 1.1e3 1700000000000
        flywheel_prompt_tokens_total{model_name="m"} 64
        flywheel_request_success_total{finish_reason="stop",model_name="m"} 10
        flywheel_request_success_total{finish_reason="length",model_name="m"} 5
        flywheel_time_to_first_token_seconds_sum{model_name="m"} 4.5
        flywheel_time_to_first_token_seconds_count{model_name="m"} 15
        flywheel_e2e_request_latency_seconds_sum 0
        flywheel_e2e_request_latency_seconds_count 0
        weird_label{path="a}b\"c,d"} 7
        process_cpu_seconds_total 12.5
        not a sample line
        """;

    [Fact]
    public void Sums_samples_over_label_sets_and_skips_what_it_cannot_read()
    {
        var snapshot = PrometheusText.Parse(Before);
        Assert.Equal(100, snapshot.Get("flywheel_generation_tokens_total"));
        Assert.Equal(5, snapshot.Get("flywheel_request_success_total"));
        Assert.Equal(5, snapshot.Get("flywheel_time_to_first_token_seconds_count"));
        Assert.Null(snapshot.Get("flywheel_prompt_tokens_total"));

        var after = PrometheusText.Parse(After);
        Assert.Equal(1100, after.Get("flywheel_generation_tokens_total"));
        Assert.Equal(7, after.Get("weird_label"));
        Assert.Null(after.Get("not"));
    }

    [Fact]
    public void Compare_reports_counter_deltas_and_histogram_means()
    {
        var report = ServerMetricsReport.Compare(PrometheusText.Parse(Before), PrometheusText.Parse(After))!;

        Assert.Equal("flywheel_", report.Prefix);
        Assert.Equal(
            [new("flywheel_prompt_tokens_total", 64), new("flywheel_generation_tokens_total", 1000), new("flywheel_request_success_total", 10)],
            report.Counters);
        // (4.5 - 1.5) / (15 - 5); the e2e histogram gained nothing and is left out.
        Assert.Equal([new HistogramDelta("flywheel_time_to_first_token_seconds", 10, 0.3)], report.Histograms.Select(h => h with { MeanDelta = Math.Round(h.MeanDelta, 9) }));
    }

    [Fact]
    public void Understands_vllm_names_and_gives_null_for_unrelated_metrics()
    {
        var vllm = PrometheusText.Parse("vllm:generation_tokens_total{model_name=\"m\"} 5\n");
        Assert.Equal("vllm:", ServerMetricsReport.Compare(PrometheusText.Parse(""), vllm)!.Prefix);
        Assert.Null(ServerMetricsReport.Compare(PrometheusText.Parse(""), PrometheusText.Parse("process_cpu_seconds_total 1\n")));
    }
}
