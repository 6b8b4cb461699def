using System.Runtime.CompilerServices;
using Flywheel.Diagnostics;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Server.OpenAi;
using Flywheel.Templates;
using Flywheel.Tokenization;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Serves a model folder through the continuous-batching <see cref="LlmEngine"/>. Templating and
/// tokenization run on the request thread; the engine thread only sees token ids. Detokenization and
/// stop strings run on the reading side, per request: a completed stop string aborts the request in the
/// engine and ends it with finish reason "stop". Supports every sampling option of the API; refuses
/// response_format other than text (400) until structured output lands, rather than ignoring it.
/// </summary>
public sealed class EngineBackend : IGenerationBackend, Metrics.IMetricsSource, IDisposable
{
    private readonly ModelFolder _model;
    private readonly Tokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly LlmEngine _engine;

    public EngineBackend(ModelFolder model, Tokenizer tokenizer, EngineOptions options)
    {
        _model = model;
        _tokenizer = tokenizer;
        _template = tokenizer.ChatTemplate is { } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;
        _engine = new LlmEngine(model, options, tokenizer.EosTokenIds);
        _metrics = new FlywheelMetrics(model.Name, new StatsView(_engine));
        _engine.StepCompleted = _metrics.RecordStep;
    }

    private readonly FlywheelMetrics _metrics;

    public System.Diagnostics.Metrics.Meter Meter => _metrics.Meter;

    public IReadOnlyDictionary<string, double[]> HistogramBuckets => FlywheelMetrics.Buckets;

    public void PublishInitialValues() => _metrics.Touch();

    public LlmEngine Engine => _engine;

    public string ModelId => _model.Name;

    public int ContextLength => _model.Config.ContextLength;

    public string Description =>
        $"{_model.Config.ModelType}, {_model.Config.Decoder.NumHiddenLayers} layers, hidden {_model.Config.Decoder.HiddenSize}, vocab {_model.Config.VocabSize}, " +
        $"context {ContextLength}, ONNX Runtime {(_model.Device == Onnx.ExecutionDevice.Cuda ? "CUDA" : "CPU")}; {EngineOptions.PolicyName(_engine.Options.Policy)} scheduling, " +
        $"{_engine.Options.MaxRunningRequests} running, {_engine.Options.MaxBatchTokens} tokens/step, chunk {_engine.Options.ChunkSize}";

    public bool IsReady => true;

    public PreparedPrompt Prepare(ApiRequest request)
    {
        if (request.ResponseFormat.Kind != ResponseFormatKind.Text)
        {
            throw OpenAiError.BadRequest("'response_format' other than text is not supported by this server yet.", "response_format");
        }

        int[] ids;
        if (request.IsChat)
        {
            ids = _tokenizer.Encode(PromptText.Render(request, _template, _tokenizer.BosToken, _tokenizer.EosToken));
        }
        else
        {
            ids = _tokenizer.EncodePrompt(request.Prompt ?? "");
        }

        if (ids.Length == 0)
        {
            throw OpenAiError.BadRequest("The prompt is empty.", request.IsChat ? "messages" : "prompt");
        }

        return new PreparedPrompt(ids.Length, PromptLimits.ResolveMaxTokens(ids.Length, request, ContextLength), ids);
    }

    public SubmitResult TrySubmit(PreparedPrompt prompt, ApiRequest request, CancellationToken cancellationToken)
    {
        // Aborted when the client goes away or when a stop string completes.
        var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var outcome = _engine.TrySubmit(new EngineRequest
        {
            PromptIds = (int[])prompt.State!,
            MaxTokens = prompt.MaxNewTokens,
            IgnoreEos = request.IgnoreEos,
            CancellationToken = abort.Token,
            Sampling = new SamplingParams
            {
                Temperature = request.Temperature,
                TopK = request.TopK,
                TopP = request.TopP,
                MinP = request.MinP,
                PresencePenalty = request.PresencePenalty,
                FrequencyPenalty = request.FrequencyPenalty,
                RepetitionPenalty = request.RepetitionPenalty,
                Seed = request.Seed,
                TopLogprobs = request.TopLogprobs,
            },
        });
        if (outcome.QueueFull)
        {
            _metrics.RecordRejected("queue_full");
            abort.Dispose();
            return SubmitResult.QueueFull(retryAfterSeconds: 1);
        }

        if (!outcome.Accepted)
        {
            _metrics.RecordRejected("invalid");
            abort.Dispose();
            return SubmitResult.Rejected(OpenAiError.BadRequest(outcome.Error ?? "rejected by the engine"));
        }

        return SubmitResult.Accepted(Translate(outcome, request, prompt.PromptTokenCount, abort, cancellationToken));
    }

    public void Dispose()
    {
        _engine.Dispose();
        _metrics.Dispose();
    }

    /// <summary>Engine events to API updates: text through the stream decoder and the stop-string filter.</summary>
    private async IAsyncEnumerable<GenerationUpdate> Translate(SubmitOutcome outcome, ApiRequest request, int promptTokens, CancellationTokenSource abort, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var _ = abort;
        var decoder = _tokenizer.CreateStreamDecoder();
        var filter = new StopStringFilter(request.Stop);
        var withLogprobs = request.TopLogprobs is not null;
        var completion = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var firstToken = 0.0;
        var lastToken = 0.0;
        await foreach (var e in outcome.Events!.ReadAllAsync(cancellationToken))
        {
            if (e is TokenEvent t)
            {
                completion++;
                var now = clock.Elapsed.TotalSeconds;
                if (completion == 1)
                {
                    firstToken = now;
                }
                else
                {
                    _metrics.RecordInterTokenLatency(now - lastToken);
                }

                lastToken = now;
                var text = t.IsStopToken ? "" : filter.Push(decoder.Append(t.Token.Id));
                yield return new TextDelta(text, [ToGenerated(t.Token, withLogprobs)]);
                if (filter.Stopped)
                {
                    abort.Cancel();
                    // The engine's own finish event is not read after this; time from the reader's clock.
                    _metrics.RecordRequestFinished("stop", promptTokens, completion, 0, firstToken, lastToken);
                    yield return new Finished(FinishReason.Stop, promptTokens, completion);
                    yield break;
                }

                continue;
            }

            var finish = (FinishEvent)e;
            _metrics.RecordRequestFinished(finish.Reason.ToString().ToLowerInvariant(), finish.PromptTokenCount, finish.CompletionTokenCount, finish.QueueSeconds, finish.TimeToFirstTokenSeconds, finish.EndToEndSeconds);
            var rest = filter.Push(decoder.Flush()) + filter.Flush();
            if (rest.Length > 0)
            {
                yield return new TextDelta(rest, []);
            }

            yield return new Finished(
                finish.Reason switch
                {
                    EngineFinishReason.Stop => FinishReason.Stop,
                    EngineFinishReason.Length => FinishReason.Length,
                    EngineFinishReason.Abort => FinishReason.Abort,
                    _ => FinishReason.Error,
                },
                finish.PromptTokenCount,
                finish.CompletionTokenCount,
                finish.Error);
        }
    }

    private GeneratedToken ToGenerated(SampledToken token, bool withLogprobs) =>
        withLogprobs
            ? new GeneratedToken(token.Id, _tokenizer.Decode([token.Id]), token.Logprob,
                token.TopLogprobs!.Select(t => new TokenCandidate(t.Id, _tokenizer.Decode([t.Id]), t.Logprob)).ToList())
            : new GeneratedToken(token.Id, _tokenizer.Decode([token.Id]));

    private sealed class StatsView(LlmEngine engine) : IEngineStats
    {
        public int RunningCount => engine.RunningCount;

        public int WaitingCount => engine.WaitingCount;

        public double KvCacheUsage => engine.KvCacheUsage;
    }
}
