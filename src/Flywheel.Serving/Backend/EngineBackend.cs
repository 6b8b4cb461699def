using System.Runtime.CompilerServices;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Scheduling;
using Flywheel.Serving.Adapters;
using Flywheel.Serving.Metrics;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Serving.Tools;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Serving.Backend;

/// <summary>
/// Serves a model folder through the continuous-batching <see cref="LlmEngine"/>. Templating and
/// tokenization run on the request thread (<see cref="PromptEncoder"/>); the engine thread only sees token
/// ids (<see cref="EngineSubmitter"/>). Detokenization and stop strings run on the reading side, per request
/// (<see cref="UpdateTranslator"/>): a completed stop string aborts the request in the engine and ends it
/// with finish reason "stop". Supports every sampling option of the API and response_format (json_object,
/// json_schema): schemas compile on the compile pool, the engine masks tokens with their grammar, and the
/// result is validated and, when invalid, repaired (<see cref="StructuredOutput"/>).
/// </summary>
public sealed class EngineBackend : IGenerationBackend, IMetricsSource, IDisposable
{
    /// <summary>Repair turns a response_format request gets when it does not set max_repairs.</summary>
    public const int DefaultMaxRepairs = 2;

    private readonly ModelFolder _model;
    private readonly LlmEngine _engine;
    private readonly FlywheelMetrics _metrics;
    private readonly ResponseFormatCompiler _formats;
    private readonly PromptEncoder _prompts;
    private readonly EngineSubmitter _submitter;
    private readonly UpdateTranslator _updates;
    private readonly StructuredOutput _structured;
    private readonly ToolCompiler _tools;
    private readonly int? _pythonTagId; // Llama-3's <|python_tag|>, a special token (no bytes of its own)

    /// <param name="defaultMaxRepairs">Repair turns for response_format requests that do not set max_repairs.</param>
    /// <param name="schemaOptions">Budget, concurrency and cache bounds of response_format compiles (default: <see cref="SchemaCompileOptions"/>'s).</param>
    public EngineBackend(ModelFolder model, Tokenizer tokenizer, EngineOptions options, int defaultMaxRepairs = DefaultMaxRepairs, SchemaCompileOptions? schemaOptions = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(defaultMaxRepairs);
        _model = model;
        _engine = new LlmEngine(model, options, tokenizer.EosTokenIds);
        _metrics = new FlywheelMetrics(Registry, model.Name, new StatsView(_engine), options.MixedRuns && model.MixedSession is not null);
        // Request metrics come from the engine, so requests whose reader left (aborts) count too.
        _engine.StepCompleted = _metrics.RecordStep;
        _engine.RequestFinished = _metrics.RecordRequestFinished;
        _engine.InterTokenLatency = _metrics.RecordInterTokenLatency;
        // The grammar's end-of-sequence ids are the engine's: the model's and the tokenizer's.
        IReadOnlyCollection<int> eos = [.. model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).Distinct()];
        _formats = new ResponseFormatCompiler(() => TokenVocabulary.FromTokenizer(tokenizer, eos, Math.Max(model.Config.VocabSize, tokenizer.VocabSize)), _metrics.RecordGrammarCompile, schemaOptions);
        _formats.StartBuildingVocabulary();
        _prompts = new PromptEncoder(tokenizer, ContextLength);
        _submitter = new EngineSubmitter(_engine, _metrics, () => _formats.Vocabulary);
        _updates = new UpdateTranslator(tokenizer);
        _structured = new StructuredOutput(_prompts, _submitter, _updates, _metrics, defaultMaxRepairs);
        // A model that cannot run adapters gets a registry without slots: every load is refused with the reason.
        Adapters = new AdapterRegistry(new EngineAdapterSlots(_engine, model.Directory), ModelId, options.MaxLoraCount,
            options.MaxLoraCount > 0 ? _engine.AdapterUnsupportedReason : null);
        AdapterMetrics.Register(Registry, model.Name, Adapters);
        _tools = new ToolCompiler(_formats, ToolCallFormats.Detect(tokenizer.ChatTemplate));
        _pythonTagId = tokenizer.TokenToId(ToolCallParser.PythonTag) is { } tag && tokenizer.IsSpecial(tag) ? tag : null;
    }

    /// <summary>The adapters served over the model (none unless <see cref="EngineOptions.MaxLoraCount"/> is set and the model can run them).</summary>
    public AdapterRegistry Adapters { get; }

    /// <summary>Why this model cannot serve adapters (null when it can, with slots or not).</summary>
    public string? AdapterUnsupportedReason => _engine.SupportsAdapters || _engine.Options.MaxLoraCount == 0 ? null : _engine.AdapterUnsupportedReason;

    /// <summary>Whether the grammar's vocabulary is built (it starts building with the backend).</summary>
    internal bool VocabularyBuilt => _formats.VocabularyBuilt;

    /// <summary>The engine behind this backend, for tests that read its counters or pace its steps.</summary>
    internal LlmEngine Engine => _engine;

    /// <summary>Test seam: sees every request just before it goes to the engine.</summary>
    internal Action<EngineRequest>? Submitting
    {
        set => _submitter.Submitting = value;
    }

    /// <summary>Test seam: wraps each generation's constraint (null when it has none) before it goes to the engine.</summary>
    internal Func<Sampling.ITokenConstraint?, Sampling.ITokenConstraint?>? WrapConstraint
    {
        set => _submitter.WrapConstraint = value;
    }

    /// <summary>This backend's metrics (its own registry, not the process-wide default).</summary>
    public Prometheus.CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

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
        // Forced tool calls (required, named) are a response format of their own: a grammar over the allowed calls.
        var tools = await _tools.CompileAsync(request, cancellationToken).ConfigureAwait(false);
        var format = tools?.Forced ?? (request.ResponseFormat.Kind == ResponseFormatKind.Text ? null
            : await _formats.CompileAsync(request.ResponseFormat, cancellationToken).ConfigureAwait(false));
        var (ids, maxNewTokens) = _prompts.Prepare(request);
        if (format is not null && request.ConstrainedDecoding)
        {
            _submitter.CheckBudget(format, maxNewTokens, request.MaxTokens is null);
        }
        return new PreparedPrompt(ids.Length, maxNewTokens, new PromptState(ids, format, tools));
    }

    public SubmitResult TrySubmit(PreparedPrompt prompt, ApiRequest request, CancellationToken cancellationToken)
    {
        var state = (PromptState)prompt.State!;
        // constrained_decoding false turns the auto trigger off as it turns a format's grammar off: the model writes
        // freely, and its calls are only parsed, validated and (whole responses) repaired.
        var auto = state.Tools is { Choice.Mode: ToolChoiceMode.Auto, Call: not null } ? state.Tools : null;
        var trigger = request.ConstrainedDecoding ? AutoConstraint(auto, request.ParallelToolCalls, mustCall: false) : null;
        var (attempt, refusal) = _submitter.Submit(state.Ids, prompt.MaxNewTokens, request, state.Format, cancellationToken, trigger);
        if (attempt is null)
        {
            return refusal!;
        }

        var updates = state.Format is not null
            ? request.Stream ? _structured.Validated(attempt, request, state.Format, cancellationToken) : _structured.Repairing(attempt, request, state.Format, cancellationToken)
            : auto is not null && !request.Stream
                ? _structured.RepairingCalls(attempt, request, auto, request.ConstrainedDecoding ? AutoConstraint(auto, request.ParallelToolCalls, mustCall: true) : null, cancellationToken)
                : _updates.Translate(attempt, request, cancellationToken);
        if (state.Tools is { Choice.Mode: not ToolChoiceMode.None } tools)
        {
            updates = ToolCallStream.Translate(updates, tools, request.ConstrainedDecoding, cancellationToken);
        }

        if (auto is not null && request.Stream)
        {
            // A stream is never repaired, so no repair loop counts its broken call: the finish event's report does.
            updates = CountFailedValidation(updates, cancellationToken);
        }

        return SubmitResult.Accepted(updates);
    }

    private async IAsyncEnumerable<GenerationUpdate> CountFailedValidation(IAsyncEnumerable<GenerationUpdate> updates, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var update in updates.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (update is Finished { Structured.Valid: false })
            {
                _metrics.RecordValidationFailure();
            }

            yield return update;
        }
    }

    /// <summary>
    /// tool_choice auto: free text until the model starts a call in its family's format, then the call's grammar. Hermes:
    /// the call opens with its tag, and (with parallel tool calls) its closing tag hands back to free text
    /// (<see cref="ToolCallTrigger"/>). Llama-3: an answer opening with <c>{</c> or the python tag is calls, separated by
    /// <c>;</c> with parallel tool calls (<see cref="LlamaCallTrigger"/>). With <paramref name="mustCall"/> (repair turns)
    /// the answer is a call from its first token, and a budget too small for one refuses the repair.
    /// </summary>
    private Func<int, Sampling.ITokenConstraint?>? AutoConstraint(ToolPlan? tools, bool several, bool mustCall)
    {
        if (tools is not { Choice.Mode: ToolChoiceMode.Auto, TriggerGrammar: { } grammar })
        {
            return null;
        }

        return maxNewTokens =>
        {
            if (mustCall && grammar.MinimumTokens(_formats.Vocabulary) is var minimum
                && maxNewTokens < (minimum ?? int.MaxValue - ToolCallTrigger.MarkerTokens) + (tools.Format == ToolCallFormat.HermesTags ? ToolCallTrigger.MarkerTokens : 0))
            {
                throw new RequestRejectedException(RejectionReason.MaxTokensTooSmall, "no room left for a repaired tool call", "max_tokens");
            }

            return tools.Format == ToolCallFormat.HermesTags
                ? new ToolCallTrigger(grammar, _formats.Vocabulary, maxNewTokens, several, _metrics.RecordGrammarMask, mustCall)
                : new LlamaCallTrigger(grammar, _formats.Vocabulary, maxNewTokens, _pythonTagId, several, mustCall, _metrics.RecordGrammarMask);
        };
    }

    public void Dispose()
    {
        _engine.Dispose();
        _formats.Dispose();
    }

    /// <summary>What Prepare hands to TrySubmit: the prompt's ids, the compiled response_format or forced call (null for text), the tools' plan.</summary>
    private sealed record PromptState(int[] Ids, CompiledFormat? Format, ToolPlan? Tools);

    private sealed class StatsView(LlmEngine engine) : IEngineStats
    {
        public int RunningCount => engine.RunningCount;

        public int WaitingCount => engine.WaitingCount;

        public double KvCacheUsage => engine.KvCacheUsage;
    }
}
