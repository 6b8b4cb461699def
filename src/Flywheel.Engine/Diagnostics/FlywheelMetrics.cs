using System.Diagnostics.Metrics;
using Flywheel.Execution;

namespace Flywheel.Diagnostics;

/// <summary>What the metrics read from the engine at scrape time.</summary>
public interface IEngineStats
{
    int RunningCount { get; }

    int WaitingCount { get; }

    /// <summary>0..1.</summary>
    double KvCacheUsage { get; }
}

/// <summary>
/// The engine's instruments on Meter "Flywheel", named like vLLM's with a <c>flywheel_</c> prefix (counters
/// are exported with <c>_total</c>). Every measurement carries the <c>model</c> tag. Thread-safe: record from
/// any thread. Histogram bucket boundaries are vLLM's (<see cref="Buckets"/>).
/// </summary>
public sealed class FlywheelMetrics : IDisposable
{
    public const string MeterName = "Flywheel";

    private static readonly double[] TtftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
    private static readonly double[] ItlBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
    private static readonly double[] RequestBuckets = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];
    private static readonly double[] TokenBuckets = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384];
    private static readonly double[] MaskBuckets = [1e-6, 5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1];

    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?> _model;
    private readonly Counter<long> _promptTokens, _generationTokens, _success, _preemptions, _steps, _runs, _rejected, _validationFailures, _repairs;
    private readonly Histogram<double> _ttft, _itl, _e2e, _queue, _prefill, _decode, _grammarCompile, _grammarMask;
    private readonly Histogram<long> _iterationTokens, _stepDecode, _stepPrefill;

    public FlywheelMetrics(string modelName, IEngineStats stats)
    {
        _meter = new Meter(MeterName, "1.0");
        _model = new("model", modelName);
        var tags = new[] { _model };
        _meter.CreateObservableGauge("flywheel_num_requests_running", () => new Measurement<int>(stats.RunningCount, tags), description: "Requests holding a KV slot.");
        _meter.CreateObservableGauge("flywheel_num_requests_waiting", () => new Measurement<int>(stats.WaitingCount, tags), description: "Requests waiting for admission.");
        _meter.CreateObservableGauge("flywheel_kv_cache_usage_perc", () => new Measurement<double>(stats.KvCacheUsage, tags), description: "KV cache usage, 0 to 1.");
        _promptTokens = _meter.CreateCounter<long>("flywheel_prompt_tokens", description: "Prompt tokens processed.");
        _generationTokens = _meter.CreateCounter<long>("flywheel_generation_tokens", description: "Tokens generated.");
        _success = _meter.CreateCounter<long>("flywheel_request_success", description: "Finished requests by finish reason.");
        _preemptions = _meter.CreateCounter<long>("flywheel_num_preemptions", description: "Preemptions (the engine never preempts; always 0).");
        _steps = _meter.CreateCounter<long>("flywheel_steps", description: "Engine steps run.");
        _runs = _meter.CreateCounter<long>("flywheel_model_runs", description: "Model Runs, by kind (decode, chunk, mixed: decodes and a chunk in one Run).");
        _rejected = _meter.CreateCounter<long>("flywheel_requests_rejected", description: "Requests refused, by reason.");
        _validationFailures = _meter.CreateCounter<long>("flywheel_structured_validation_failures", description: "Structured outputs that failed schema validation.");
        _repairs = _meter.CreateCounter<long>("flywheel_structured_repairs", description: "Repair attempts of structured outputs.");
        _ttft = _meter.CreateHistogram<double>("flywheel_time_to_first_token_seconds", "s", "Time from arrival to the first token.");
        _itl = _meter.CreateHistogram<double>("flywheel_inter_token_latency_seconds", "s", "Time between consecutive tokens of a request.");
        _e2e = _meter.CreateHistogram<double>("flywheel_e2e_request_latency_seconds", "s", "Time from arrival to the last token.");
        _queue = _meter.CreateHistogram<double>("flywheel_request_queue_time_seconds", "s", "Time waiting for admission.");
        _prefill = _meter.CreateHistogram<double>("flywheel_request_prefill_time_seconds", "s", "Time from admission to the first token.");
        _decode = _meter.CreateHistogram<double>("flywheel_request_decode_time_seconds", "s", "Time from the first to the last token.");
        _iterationTokens = _meter.CreateHistogram<long>("flywheel_iteration_tokens_total", description: "Tokens per engine step.");
        _stepDecode = _meter.CreateHistogram<long>("flywheel_step_decode_tokens", description: "Decode tokens per engine step.");
        _stepPrefill = _meter.CreateHistogram<long>("flywheel_step_prefill_chunk_tokens", description: "Prompt-chunk tokens per engine step.");
        _grammarCompile = _meter.CreateHistogram<double>("flywheel_grammar_compile_seconds", "s", "Time to compile a response_format schema.");
        _grammarMask = _meter.CreateHistogram<double>("flywheel_grammar_mask_seconds", "s", "Time to compute one token mask.");
    }

    /// <summary>Bucket boundaries (upper bounds) per histogram name; the exporter uses these.</summary>
    public static IReadOnlyDictionary<string, double[]> Buckets { get; } = new Dictionary<string, double[]>
    {
        ["flywheel_time_to_first_token_seconds"] = TtftBuckets,
        ["flywheel_inter_token_latency_seconds"] = ItlBuckets,
        ["flywheel_e2e_request_latency_seconds"] = RequestBuckets,
        ["flywheel_request_queue_time_seconds"] = RequestBuckets,
        ["flywheel_request_prefill_time_seconds"] = RequestBuckets,
        ["flywheel_request_decode_time_seconds"] = RequestBuckets,
        ["flywheel_iteration_tokens_total"] = TokenBuckets,
        ["flywheel_step_decode_tokens"] = TokenBuckets,
        ["flywheel_step_prefill_chunk_tokens"] = TokenBuckets,
        ["flywheel_grammar_compile_seconds"] = MaskBuckets,
        ["flywheel_grammar_mask_seconds"] = MaskBuckets,
    };

    /// <summary>One engine step's make-up.</summary>
    public void RecordStep(StepReport step)
    {
        _steps.Add(1, _model);
        _iterationTokens.Record(step.DecodeTokens + step.ChunkTokens, _model);
        _stepDecode.Record(step.DecodeTokens, _model);
        _stepPrefill.Record(step.ChunkTokens, _model);
        if (step.DecodeRuns > 0)
        {
            _runs.Add(step.DecodeRuns, _model, new("kind", "decode"));
        }

        if (step.ChunkRuns > 0)
        {
            _runs.Add(step.ChunkRuns, _model, new("kind", "chunk"));
        }

        if (step.MixedRuns > 0)
        {
            _runs.Add(step.MixedRuns, _model, new("kind", "mixed"));
        }
    }

    public void RecordInterTokenLatency(double seconds) => _itl.Record(seconds, _model);

    /// <summary>A finished request: counters and latency histograms (seconds from arrival).</summary>
    public void RecordRequestFinished(string finishedReason, int promptTokens, int generationTokens, double queueSeconds, double ttftSeconds, double e2eSeconds)
    {
        _promptTokens.Add(promptTokens, _model);
        _generationTokens.Add(generationTokens, _model);
        _success.Add(1, _model, new("finished_reason", finishedReason));
        _queue.Record(queueSeconds, _model);
        _e2e.Record(e2eSeconds, _model);
        if (generationTokens > 0)
        {
            _ttft.Record(ttftSeconds, _model);
            _prefill.Record(Math.Max(0, ttftSeconds - queueSeconds), _model);
            _decode.Record(Math.Max(0, e2eSeconds - ttftSeconds), _model);
        }
    }

    public void RecordRejected(string reason) => _rejected.Add(1, _model, new("reason", reason));

    public void RecordGrammarCompile(double seconds) => _grammarCompile.Record(seconds, _model);

    public void RecordGrammarMask(double seconds) => _grammarMask.Record(seconds, _model);

    public void RecordValidationFailure() => _validationFailures.Add(1, _model);

    public void RecordRepair() => _repairs.Add(1, _model);

    /// <summary>Makes counters exist at zero, so dashboards and alerts see series before the first event.</summary>
    public void Touch()
    {
        _preemptions.Add(0, _model);
        _validationFailures.Add(0, _model);
        _repairs.Add(0, _model);
        _rejected.Add(0, _model, new("reason", "queue_full"));
        _rejected.Add(0, _model, new("reason", "invalid"));
    }

    /// <summary>The meter (exporters listen to this instance only, so several engines in one process stay apart).</summary>
    public Meter Meter => _meter;

    public void Dispose() => _meter.Dispose();
}
