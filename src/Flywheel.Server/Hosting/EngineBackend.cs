using System.Runtime.CompilerServices;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Server.Metrics;
using Flywheel.Server.OpenAi;
using Flywheel.Structured;
using Flywheel.Templates;
using Flywheel.Tokenization;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Serves a model folder through the continuous-batching <see cref="LlmEngine"/>. Templating and
/// tokenization run on the request thread; the engine thread only sees token ids. Detokenization and
/// stop strings run on the reading side, per request: a completed stop string aborts the request in the
/// engine and ends it with finish reason "stop". Supports every sampling option of the API and
/// response_format (json_object, json_schema): schemas compile on the request thread, the engine masks
/// tokens with their grammar, and the result is validated and, when invalid, repaired (see the partial
/// file EngineBackend.Structured.cs).
/// </summary>
public sealed partial class EngineBackend : IGenerationBackend, IMetricsSource, IDisposable
{
    private readonly ModelFolder _model;
    private readonly Tokenizer _tokenizer;
    private readonly ChatTemplate _template;
    private readonly LlmEngine _engine;

    /// <param name="defaultMaxRepairs">Repair turns for response_format requests that do not set max_repairs.</param>
    /// <param name="schemaOptions">Budget, concurrency and cache bounds of response_format compiles (default: <see cref="SchemaCompileOptions"/>'s).</param>
    public EngineBackend(ModelFolder model, Tokenizer tokenizer, EngineOptions options, int defaultMaxRepairs = DefaultMaxRepairs, SchemaCompileOptions? schemaOptions = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(defaultMaxRepairs);
        _model = model;
        _tokenizer = tokenizer;
        _template = tokenizer.ChatTemplate is { } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;
        _engine = new LlmEngine(model, options, tokenizer.EosTokenIds);
        _metrics = new FlywheelMetrics(Registry, model.Name, new StatsView(_engine), options.MixedRuns && model.MixedSession is not null);
        // Request metrics come from the engine, so requests whose reader left (aborts) count too.
        _engine.StepCompleted = _metrics.RecordStep;
        _engine.RequestFinished = _metrics.RecordRequestFinished;
        _engine.InterTokenLatency = _metrics.RecordInterTokenLatency;
        _defaultMaxRepairs = defaultMaxRepairs;
        // The grammar's end-of-sequence ids are the engine's: the model's and the tokenizer's.
        IReadOnlyCollection<int> eos = [.. model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).Distinct()];
        _formats = new ResponseFormatCompiler(() => TokenizerVocabulary.Create(tokenizer, eos, Math.Max(model.Config.VocabSize, tokenizer.VocabSize)), _metrics.RecordGrammarCompile, schemaOptions);
        _formats.StartBuildingVocabulary();
    }

    /// <summary>Whether the grammar's vocabulary is built (it starts building with the backend).</summary>
    internal bool VocabularyBuilt => _formats.VocabularyBuilt;

    private readonly FlywheelMetrics _metrics;
    private readonly QueueWaitEstimate _queueWait = new();
    private long _acceptedCount;

    /// <summary>This backend's metrics (its own registry, not the process-wide default).</summary>
    public Prometheus.CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    public LlmEngine Engine => _engine;

    public string ModelId => _model.Name;

    public int ContextLength => _model.Config.ContextLength;

    public string Description =>
        $"{_model.Config.ModelType}, {_model.Config.Decoder.NumHiddenLayers} layers, hidden {_model.Config.Decoder.HiddenSize}, vocab {_model.Config.VocabSize}, " +
        $"context {ContextLength}, ONNX Runtime {(_model.Device == Onnx.ExecutionDevice.Cuda ? "CUDA" : "CPU")}; {EngineOptions.PolicyName(_engine.Options.Policy)} scheduling, " +
        $"{_engine.Options.MaxRunningRequests} running, {_engine.Options.MaxBatchTokens} tokens/step, chunk {_engine.Options.ChunkSize}";

    public bool IsReady => true;

    public PreparedPrompt Prepare(ApiRequest request) => PrepareAsync(request, CancellationToken.None).AsTask().GetAwaiter().GetResult();

    /// <summary>
    /// As <see cref="Prepare"/>; a response_format compiles on the schema compile pool while this waits,
    /// and is abandoned (cancelled once no other request waits for the same schema) when
    /// <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async ValueTask<PreparedPrompt> PrepareAsync(ApiRequest request, CancellationToken cancellationToken)
    {
        var format = request.ResponseFormat.Kind == ResponseFormatKind.Text ? null
            : await _formats.CompileAsync(request.ResponseFormat, cancellationToken).ConfigureAwait(false);
        var ids = Encode(request);
        return new PreparedPrompt(ids.Length, PromptLimits.ResolveMaxTokens(ids.Length, request, ContextLength), new PromptState(ids, format));
    }

    public SubmitResult TrySubmit(PreparedPrompt prompt, ApiRequest request, CancellationToken cancellationToken)
    {
        var state = (PromptState)prompt.State!;
        var (attempt, refusal) = Submit(state.Ids, prompt.MaxNewTokens, request, state.Format, cancellationToken);
        if (attempt is null)
        {
            return refusal!;
        }

        var updates = state.Format is null ? Translate(attempt, request, cancellationToken)
            : request.Stream ? Validated(attempt, request, state.Format, cancellationToken)
            : Repairing(attempt, request, state.Format, cancellationToken);
        return SubmitResult.Accepted(updates);
    }

    /// <summary>The prompt's token ids: the chat template applied for chat, the raw prompt otherwise.</summary>
    private int[] Encode(ApiRequest request)
    {
        var ids = request.IsChat
            ? _tokenizer.Encode(PromptText.Render(request, _template, _tokenizer.BosToken, _tokenizer.EosToken))
            : _tokenizer.EncodePrompt(request.Prompt ?? "");
        if (ids.Length == 0)
        {
            throw OpenAiError.BadRequest("The prompt is empty.", request.IsChat ? "messages" : "prompt");
        }

        return ids;
    }

    /// <summary>Hands one generation to the engine: the attempt, or why it was refused (queue full, invalid).</summary>
    private (Attempt? Attempt, SubmitResult? Refusal) Submit(int[] ids, int maxNewTokens, ApiRequest request, CompiledFormat? format, CancellationToken cancellationToken)
    {
        // Aborted when the client goes away; stopped (finish reason Stop) when a stop string completes.
        var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var stop = new CancellationTokenSource();
        var outcome = _engine.TrySubmit(new EngineRequest
        {
            PromptIds = ids,
            MaxTokens = maxNewTokens,
            IgnoreEos = request.IgnoreEos,
            CancellationToken = abort.Token,
            StopCancellationToken = stop.Token,
            Constraint = format is not null && request.ConstrainedDecoding
                ? new GrammarConstraint(format.Grammar, _formats.Vocabulary, _metrics.RecordGrammarMask)
                : null,
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
            stop.Dispose();
            return (null, SubmitResult.QueueFull(RetryAfterSeconds()));
        }

        if (!outcome.Accepted)
        {
            _metrics.RecordRejected("invalid");
            abort.Dispose();
            stop.Dispose();
            return (null, SubmitResult.Rejected(OpenAiError.BadRequest(outcome.Error ?? "rejected by the engine")));
        }

        Interlocked.Increment(ref _acceptedCount);
        _queueWait.Observe(Environment.TickCount64 / 1000.0, _engine.StepCount, FinishedCount());

        return (new Attempt(outcome, abort, stop, ids.Length), null);
    }

    /// <summary>Retry-After for a full queue, from the engine's measured pace (see <see cref="QueueWaitEstimate"/>).</summary>
    private int RetryAfterSeconds() =>
        _queueWait.RetryAfterSeconds(Environment.TickCount64 / 1000.0, _engine.StepCount, FinishedCount(), _engine.WaitingCount);

    // Requests that have left the engine: accepted ones no longer running or waiting (read without locks,
    // so a momentary skew is possible; the estimate only needs the trend).
    private long FinishedCount() =>
        Math.Max(0, Interlocked.Read(ref _acceptedCount) - _engine.RunningCount - _engine.WaitingCount);

    public void Dispose()
    {
        _engine.Dispose();
        _formats.Dispose();
    }

    /// <summary>Engine events to API updates: text through the stream decoder and the stop-string filter.</summary>
    private async IAsyncEnumerable<GenerationUpdate> Translate(Attempt attempt, ApiRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Metrics are not recorded here: the engine reports every request it finishes (see the constructor),
        // including those whose reader left early.
        var (outcome, abort, stop, promptTokens) = attempt;
        try
        {
            var decoder = _tokenizer.CreateStreamDecoder();
            var filter = new StopStringFilter(request.Stop);
            var withLogprobs = request.TopLogprobs is not null;
            var completion = 0;
            await foreach (var e in outcome.Events!.ReadAllAsync(cancellationToken))
            {
                if (e is TokenEvent t)
                {
                    completion++;
                    var text = t.IsStopToken ? "" : filter.Push(decoder.Append(t.Token.Id));
                    yield return new TextDelta(text, [ToGenerated(t.Token, withLogprobs)]);
                    if (filter.Stopped)
                    {
                        // The engine ends the request as Stop on its next step; its finish event is not read.
                        stop.Cancel();
                        yield return new Finished(FinishReason.Stop, promptTokens, completion);
                        yield break;
                    }

                    continue;
                }

                var finish = (FinishEvent)e;
                var rest = filter.Push(decoder.Flush()) + filter.Flush();
                if (rest.Length > 0)
                {
                    yield return new TextDelta(rest, []);
                }

                yield return new Finished(
                    finish.Reason,
                    finish.PromptTokenCount,
                    finish.CompletionTokenCount,
                    finish.Error);
            }
        }
        finally
        {
            // However the reader leaves (finished, cancelled, or a write to a vanished client failed before
            // the server noticed the disconnect), the engine request must not outlive it: cancel, then
            // release. Cancelling a finished request is a no-op.
            abort.Cancel();
            abort.Dispose();
            stop.Dispose();
        }
    }

    private GeneratedToken ToGenerated(SampledToken token, bool withLogprobs) =>
        withLogprobs
            ? new GeneratedToken(token.Id, _tokenizer.Decode([token.Id]), token.Logprob,
                token.TopLogprobs!.Select(t => new TokenCandidate(t.Id, _tokenizer.Decode([t.Id]), t.Logprob)).ToList())
            : new GeneratedToken(token.Id, _tokenizer.Decode([token.Id]));

    /// <summary>What Prepare hands to TrySubmit: the prompt's ids and the compiled response_format (null for text).</summary>
    private sealed record PromptState(int[] Ids, CompiledFormat? Format);

    /// <summary>One generation in the engine: its event stream, its abort and stop switches (owned).</summary>
    private sealed record Attempt(SubmitOutcome Outcome, CancellationTokenSource Abort, CancellationTokenSource Stop, int PromptTokens);

    private sealed class StatsView(LlmEngine engine) : IEngineStats
    {
        public int RunningCount => engine.RunningCount;

        public int WaitingCount => engine.WaitingCount;

        public double KvCacheUsage => engine.KvCacheUsage;
    }
}
