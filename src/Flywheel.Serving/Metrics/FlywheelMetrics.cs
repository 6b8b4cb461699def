using Flywheel.Execution;
using Flywheel.Sampling;
using Prometheus;

namespace Flywheel.Serving.Metrics;

/// <summary>What the metrics read from the engine at scrape time.</summary>
public interface IEngineStats
{
    int RunningCount { get; }

    int WaitingCount { get; }

    /// <summary>0..1.</summary>
    double KvCacheUsage { get; }
}

/// <summary>
/// The engine's Prometheus metrics, declared natively with prometheus-net in one registry (one per backend,
/// so several servers in one process keep their own counts). Names, types and buckets mirror vLLM's set with
/// a <c>flywheel_</c> prefix; every series carries the <c>model</c> label. Every series whose label values
/// are known up front exists at zero from construction, before the first request. Thread-safe: record from
/// any thread (the engine records from its own).
/// </summary>
/// <remarks>
/// The engine assembly knows nothing of Prometheus: it raises callbacks (steps, finished requests,
/// inter-token gaps) and this class turns them into metrics. prometheus-net's adapter for
/// System.Diagnostics.Metrics is not used: it prefixes names with the meter's and exports counters as gauges.
/// </remarks>
public sealed class FlywheelMetrics
{
    /// <summary>vLLM's buckets for time to first token (seconds).</summary>
    public static readonly double[] TtftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

    /// <summary>vLLM's buckets for inter-token latency (seconds).</summary>
    public static readonly double[] ItlBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];

    /// <summary>vLLM's buckets for whole-request, queue, prefill and decode times (seconds).</summary>
    public static readonly double[] RequestBuckets = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    /// <summary>vLLM's buckets for tokens per engine step.</summary>
    public static readonly double[] TokenBuckets = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];

    /// <summary>Grammar compile and mask times (seconds; ours, no vLLM counterpart).</summary>
    public static readonly double[] GrammarBuckets = [1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1];

    private readonly Counter _promptTokens, _generationTokens, _steps, _validationFailures, _repairs;
    private readonly Counter.Child _stop, _length, _abort, _error;
    private readonly Counter _runs, _rejected;
    private readonly Histogram _ttft, _itl, _e2e, _queue, _prefill, _decode, _iterationTokens, _stepDecode, _stepPrefill, _grammarCompile, _grammarMask;

    /// <param name="registry">Where the metrics live (not the static default registry: one per server).</param>
    /// <param name="modelName">The <c>model</c> label of every series.</param>
    /// <param name="stats">Read before each scrape for the running/waiting/KV gauges.</param>
    /// <param name="mixedRuns">Whether Runs of kind "mixed" can happen (its series then exists from the start).</param>
    public FlywheelMetrics(CollectorRegistry registry, string modelName, IEngineStats stats, bool mixedRuns)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(stats);
        var factory = Prometheus.Metrics.WithCustomRegistry(registry).WithLabels(new Dictionary<string, string> { ["model"] = modelName });
        var running = factory.CreateGauge("flywheel_num_requests_running", "Requests holding a KV slot.");
        var waiting = factory.CreateGauge("flywheel_num_requests_waiting", "Requests waiting for admission.");
        var kvUsage = factory.CreateGauge("flywheel_kv_cache_usage_perc", "KV cache usage, 0 to 1.");
        registry.AddBeforeCollectCallback(() =>
        {
            running.Set(stats.RunningCount);
            waiting.Set(stats.WaitingCount);
            kvUsage.Set(stats.KvCacheUsage);
        });

        _promptTokens = factory.CreateCounter("flywheel_prompt_tokens_total", "Prompt tokens processed.");
        _generationTokens = factory.CreateCounter("flywheel_generation_tokens_total", "Tokens generated.");
        var success = factory.CreateCounter("flywheel_request_success_total", "Finished requests by finish reason.", ["finished_reason"]);
        (_stop, _length, _abort, _error) = (success.WithLabels("stop"), success.WithLabels("length"), success.WithLabels("abort"), success.WithLabels("error"));
        factory.CreateCounter("flywheel_num_preemptions_total", "Preemptions (the engine never preempts; always 0).");
        _steps = factory.CreateCounter("flywheel_steps_total", "Engine steps run.");
        _runs = factory.CreateCounter("flywheel_model_runs_total", "Model Runs, by kind (decode, chunk, mixed: decodes and a chunk in one Run).", ["kind"]);
        _rejected = factory.CreateCounter("flywheel_requests_rejected_total", "Requests refused, by reason.", ["reason"]);
        _validationFailures = factory.CreateCounter("flywheel_structured_validation_failures_total", "Structured outputs that failed schema validation.");
        _repairs = factory.CreateCounter("flywheel_structured_repairs_total", "Repair attempts of structured outputs.");
        _ttft = Histogram(factory, "flywheel_time_to_first_token_seconds", "Time from arrival to the first token.", TtftBuckets);
        _itl = Histogram(factory, "flywheel_inter_token_latency_seconds", "Time between consecutive tokens of a request.", ItlBuckets);
        _e2e = Histogram(factory, "flywheel_e2e_request_latency_seconds", "Time from arrival to the last token.", RequestBuckets);
        _queue = Histogram(factory, "flywheel_request_queue_time_seconds", "Time waiting for admission.", RequestBuckets);
        _prefill = Histogram(factory, "flywheel_request_prefill_time_seconds", "Time from admission to the first token.", RequestBuckets);
        _decode = Histogram(factory, "flywheel_request_decode_time_seconds", "Time from the first to the last token.", RequestBuckets);
        // vLLM calls this one vllm:iteration_tokens_total, but a histogram must not end in _total (promtool refuses it).
        _iterationTokens = Histogram(factory, "flywheel_iteration_tokens", "Tokens per engine step.", TokenBuckets);
        _stepDecode = Histogram(factory, "flywheel_step_decode_tokens", "Decode tokens per engine step.", TokenBuckets);
        _stepPrefill = Histogram(factory, "flywheel_step_prefill_chunk_tokens", "Prompt-chunk tokens per engine step.", TokenBuckets);
        _grammarCompile = Histogram(factory, "flywheel_grammar_compile_seconds", "Time to compile a response_format schema.", GrammarBuckets);
        _grammarMask = Histogram(factory, "flywheel_grammar_mask_seconds", "Time to compute one token mask.", GrammarBuckets);

        // Labelled series exist only once touched: touch every value known up front.
        _runs.WithLabels("decode").Publish();
        _runs.WithLabels("chunk").Publish();
        if (mixedRuns)
        {
            _runs.WithLabels("mixed").Publish();
        }

        _rejected.WithLabels("queue_full").Publish();
        _rejected.WithLabels("invalid").Publish();
    }

    /// <summary>One engine step's make-up.</summary>
    public void RecordStep(StepReport step)
    {
        _steps.Inc();
        _iterationTokens.Observe(step.DecodeTokens + step.ChunkTokens);
        _stepDecode.Observe(step.DecodeTokens);
        _stepPrefill.Observe(step.ChunkTokens);
        IncIfAny("decode", step.DecodeRuns);
        IncIfAny("chunk", step.ChunkRuns);
        IncIfAny("mixed", step.MixedRuns);
    }

    /// <summary>Seconds between two consecutive tokens of one request.</summary>
    public void RecordInterTokenLatency(double seconds) => _itl.Observe(seconds);

    /// <summary>
    /// A request the engine finished, whatever became of its reader: its finish reason, the tokens it
    /// really processed and generated, and its latencies (seconds from arrival). TTFT, prefill and decode
    /// times are recorded only for requests that produced a token.
    /// </summary>
    public void RecordRequestFinished(FinishEvent finish)
    {
        ArgumentNullException.ThrowIfNull(finish);
        _promptTokens.Inc(finish.PromptTokenCount);
        _generationTokens.Inc(finish.CompletionTokenCount);
        (finish.Reason switch
        {
            FinishReason.Stop => _stop,
            FinishReason.Length => _length,
            FinishReason.Abort => _abort,
            _ => _error,
        }).Inc();
        _queue.Observe(finish.QueueSeconds);
        _e2e.Observe(finish.EndToEndSeconds);
        if (finish.CompletionTokenCount > 0)
        {
            _ttft.Observe(finish.TimeToFirstTokenSeconds);
            _prefill.Observe(Math.Max(0, finish.TimeToFirstTokenSeconds - finish.QueueSeconds));
            _decode.Observe(Math.Max(0, finish.EndToEndSeconds - finish.TimeToFirstTokenSeconds));
        }
    }

    /// <summary>A request refused before it reached the engine ("queue_full", "invalid").</summary>
    public void RecordRejected(string reason) => _rejected.WithLabels(reason).Inc();

    public void RecordGrammarCompile(double seconds) => _grammarCompile.Observe(seconds);

    public void RecordGrammarMask(double seconds) => _grammarMask.Observe(seconds);

    public void RecordValidationFailure() => _validationFailures.Inc();

    public void RecordRepair() => _repairs.Inc();

    private static Histogram Histogram(IMetricFactory factory, string name, string help, double[] buckets) =>
        factory.CreateHistogram(name, help, new HistogramConfiguration { Buckets = buckets });

    // Looking a child up creates its series, so a kind that never runs (mixed, without its graph) stays absent.
    private void IncIfAny(string kind, int count)
    {
        if (count > 0)
        {
            _runs.WithLabels(kind).Inc(count);
        }
    }
}
