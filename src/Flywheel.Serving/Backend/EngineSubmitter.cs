using Flywheel.Execution;
using Flywheel.Sampling;
using Flywheel.Serving.Metrics;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Structured;

namespace Flywheel.Serving.Backend;

/// <summary>One generation in the engine: its event stream, its abort and stop switches (owned).</summary>
/// <param name="Adapter">The adapter it runs on (null = the base), whose waiting/running counts it is part of.</param>
internal sealed record Attempt(SubmitOutcome Outcome, CancellationTokenSource Abort, CancellationTokenSource Stop, int PromptTokens, Adapters.LoadedAdapter? Adapter);

/// <summary>
/// Hands token ids to the engine: the request's sampling options, its grammar constraint, and the two
/// switches that end it (abort when the reader goes, stop when a stop string completes). Counts refusals
/// and estimates Retry-After for a full queue from the engine's measured pace. Thread-safe.
/// </summary>
internal sealed class EngineSubmitter(LlmEngine engine, FlywheelMetrics metrics, Func<TokenVocabulary> vocabulary)
{
    private readonly QueueWaitEstimate _queueWait = new();
    private long _acceptedCount;

    /// <summary>Test seam, set only by tests: sees every request just before it goes to the engine (e.g. its adapter slot).</summary>
    internal Action<EngineRequest>? Submitting { get; set; }

    /// <summary>Test seam, set only by tests: wraps each generation's constraint (e.g. to steer a random-weight model into a call).</summary>
    internal Func<ITokenConstraint?, ITokenConstraint?>? WrapConstraint { get; set; }

    /// <summary>Hands one generation to the engine: the attempt, or why it was refused (queue full, invalid).</summary>
    /// <param name="ids">The prompt's token ids.</param>
    /// <param name="maxNewTokens">The resolved completion budget.</param>
    /// <param name="request">The request's sampling options.</param>
    /// <param name="format">The response format (or forced tool call) whose grammar constrains decoding; null for none.</param>
    /// <param name="cancellationToken">Aborts the attempt.</param>
    /// <param name="tools">A constraint of its own for requests without a format (tool_choice auto), given the budget; null for none.</param>
    /// <exception cref="RequestRejectedException">A constrained attempt whose <paramref name="maxNewTokens"/> is below its format's minimum.</exception>
    public (Attempt? Attempt, SubmitResult? Refusal) Submit(int[] ids, int maxNewTokens, ApiRequest request, CompiledFormat? format, CancellationToken cancellationToken,
        Func<int, ITokenConstraint?>? tools = null)
    {
        var adapter = request.Adapter;
        if (adapter is { IsUnloading: true })
        {
            // A repair turn after its adapter's unload began: the name is gone, as for a new request.
            return (null, SubmitResult.Rejected(new RequestRejectedException(RejectionReason.ModelNotFound, $"The model `{adapter.Name}` does not exist (its adapter was unloaded).", "model")));
        }

        var constraint = format is not null && request.ConstrainedDecoding ? CreateConstraint(format, maxNewTokens) : tools?.Invoke(maxNewTokens);
        constraint = WrapConstraint is { } wrap ? wrap(constraint) : constraint;
        // Aborted when the client goes away or the adapter's unload stops waiting; stopped (finish reason
        // Stop) when a stop string completes.
        var abort = adapter is null ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, adapter.UnloadToken);
        var stop = new CancellationTokenSource();
        var engineRequest = new EngineRequest
        {
            PromptIds = ids,
            MaxTokens = maxNewTokens,
            IgnoreEos = request.IgnoreEos,
            CancellationToken = abort.Token,
            StopCancellationToken = stop.Token,
            Constraint = constraint,
            AdapterSlot = adapter?.Slot ?? 0,
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
        };
        Submitting?.Invoke(engineRequest);
        var outcome = engine.TrySubmit(engineRequest);
        if (outcome.QueueFull)
        {
            metrics.RecordRejected("queue_full");
            abort.Dispose();
            stop.Dispose();
            return (null, SubmitResult.QueueFull(RetryAfterSeconds()));
        }

        if (!outcome.Accepted)
        {
            metrics.RecordRejected("invalid");
            abort.Dispose();
            stop.Dispose();
            return (null, SubmitResult.Rejected(new RequestRejectedException(RejectionReason.EngineRefused, outcome.Error ?? "rejected by the engine")));
        }

        Interlocked.Increment(ref _acceptedCount);
        adapter?.GenerationQueued();
        _queueWait.Observe(Environment.TickCount64 / 1000.0, engine.StepCount, FinishedCount());

        return (new Attempt(outcome, abort, stop, ids.Length, adapter), null);
    }

    /// <summary>
    /// Refuses a constrained generation that cannot close within <paramref name="maxNewTokens"/>: the
    /// grammar knows the fewest tokens its shortest valid answer takes (see JsonSchemaGrammar.MinimumTokens).
    /// </summary>
    /// <param name="fromContext">True when no max_tokens was given and the context's room set the limit.</param>
    public void CheckBudget(CompiledFormat format, int maxNewTokens, bool fromContext = false)
    {
        if (format.Grammar.MinimumTokens(vocabulary()) is int minimum && maxNewTokens < minimum)
        {
            throw new RequestRejectedException(RejectionReason.MaxTokensTooSmall, fromContext
                ? $"The prompt leaves room for {maxNewTokens} tokens, and the shortest answer this response_format allows takes {minimum}."
                : $"max_tokens must be at least {minimum} for this response_format (its shortest valid answer takes {minimum} tokens); it is {maxNewTokens}.",
                "max_tokens");
        }
    }

    // Budget-aware: the constraint steers the answer to close within maxNewTokens (the engine stops there).
    // Prepare refused a first attempt below the minimum; a repair whose longer conversation leaves less
    // room is refused here, which ends the repairs.
    private GrammarConstraint CreateConstraint(CompiledFormat format, int maxNewTokens)
    {
        CheckBudget(format, maxNewTokens);
        return new GrammarConstraint(format.Grammar, vocabulary(), maxNewTokens, metrics.RecordGrammarMask);
    }

    /// <summary>Retry-After for a full queue, from the engine's measured pace (see <see cref="QueueWaitEstimate"/>).</summary>
    private int RetryAfterSeconds() =>
        _queueWait.RetryAfterSeconds(Environment.TickCount64 / 1000.0, engine.StepCount, FinishedCount(), engine.WaitingCount);

    // Requests that have left the engine: accepted ones no longer running or waiting (read without locks,
    // so a momentary skew is possible; the estimate only needs the trend).
    private long FinishedCount() =>
        Math.Max(0, Interlocked.Read(ref _acceptedCount) - engine.RunningCount - engine.WaitingCount);
}
