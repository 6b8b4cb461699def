using System.Diagnostics;
using System.Threading.Channels;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Execution;

/// <summary>
/// The continuous-batching engine. One dedicated thread owns every request's state (no locks); requests
/// arrive through a bounded channel and results leave through one channel per request. Each step reads
/// as schedule, run, postprocess: the <see cref="Scheduler"/> plans decodes and prompt chunks under the
/// token budget, the <see cref="RunPlanner"/> groups them into model Runs, the <see cref="ModelRunner"/>
/// runs them, each Run's rows are sampled and checked against the stop criteria, and once all Runs are
/// done the <see cref="SlotTable"/> frees finished slots and compacts the KV cache, before the step's
/// finish events go out.
/// </summary>
public sealed partial class LlmEngine : IDisposable
{
    private readonly ModelFolder _model;
    private readonly Scheduler _scheduler;
    private readonly KvCache _cache;
    private readonly SlotTable _slots;
    private readonly RunPlanner _planner;
    private readonly ModelRunner _runner;
    private readonly StopCriteria _stopCriteria;
    private readonly Channel<Sequence> _incoming;
    private readonly Thread? _thread; // null when the caller drives the steps (RunUntilIdle)
    private readonly StepPlan _plan = new();
    private readonly List<Sequence> _finished = [];   // this step's, in finishing order
    private readonly CancellationTokenSource _stop = new();
    private long _nextId;
    private volatile int _runningCount, _waitingCount;
    private long _stepCount, _usedTokens, _generatedTokenCount;

    /// <param name="ownThread">
    /// True (the default): the engine runs its steps on a thread of its own, for any number of callers.
    /// False: no thread; the caller runs the steps with <see cref="RunUntilIdle"/> (one client, e.g.
    /// <c>flywheel generate</c>, which then reads each token without a hop between threads).
    /// </param>
    public LlmEngine(ModelFolder model, EngineOptions options, IReadOnlyCollection<int>? extraEosTokenIds = null, bool ownThread = true)
    {
        options.Validate();
        _model = model;
        Options = options;
        var c = model.Config;
        ContextLength = c.ContextLength;
        _scheduler = new Scheduler(options);
        _cache = new KvCache(c.Decoder.NumHiddenLayers, SlotTable.SlotCountFor(options.MaxRunningRequests), c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize, model.KvElementType);
        _slots = new SlotTable(_cache, options.MaxRunningRequests);
        (_adapterSlots, AdapterUnsupportedReason) = CreateAdapterSlots(model, options);
        _adapterStates = new AdapterState[(_adapterSlots?.SlotCount ?? 1)];
        _adapterGenerations = new int[_adapterStates.Length];
        _runner = new ModelRunner(model, _cache, options, _adapterSlots);
        _planner = new RunPlanner(_runner.MaxTokensPerRun, _runner.CanRunMixed, options.RunOverheadTokens, options.OneAdapterPerRun);
        _stopCriteria = new StopCriteria([.. c.EosTokenIds, .. extraEosTokenIds ?? []], c.ContextLength);
        _incoming = Channel.CreateBounded<Sequence>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true });
        if (ownThread)
        {
            _thread = new Thread(Loop) { IsBackground = true, Name = "flywheel-engine" };
            _thread.Start();
        }
    }

    /// <summary>
    /// Test seam, set only by tests (engine and server): called on the engine thread before each step's
    /// Runs; may throw to fail a step or block to pace the engine. It stays because nothing else reaches
    /// into a step from outside the engine thread.
    /// </summary>
    internal Action<long>? BeforeStep { get; set; }

    /// <summary>
    /// Queues a request without blocking. Refuses (Error) a request that cannot fit the context or has bad
    /// sampling parameters, and reports QueueFull when the queue is at capacity.
    /// </summary>
    public SubmitOutcome TrySubmit(EngineRequest request)
    {
        var id = Interlocked.Increment(ref _nextId);
        var generation = 0;
        if ((request.Refusal(ContextLength, VocabSize) ?? AdapterRefusal(request, out generation)) is { } error)
        {
            return new SubmitOutcome(id, null, error, false);
        }

        var output = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleWriter = true });
        var sequence = new Sequence(id, request, output.Writer, Stopwatch.GetTimestamp()) { AdapterGeneration = generation };
        if (_stop.IsCancellationRequested || !_incoming.Writer.TryWrite(sequence))
        {
            return new SubmitOutcome(id, null, null, QueueFull: true);
        }

        return new SubmitOutcome(id, output.Reader, null, false);
    }

    /// <summary>
    /// Runs steps on the calling thread until no request is left; <paramref name="afterStep"/> is called after
    /// each (e.g. to read the events it produced). Only for an engine built without its own thread.
    /// </summary>
    public void RunUntilIdle(Action? afterStep = null)
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("this engine runs its steps on its own thread");
        }

        while (!TakeIncoming())
        {
            Step();
            afterStep?.Invoke();
        }
    }

    private void Loop()
    {
        while (true)
        {
            if (_stop.IsCancellationRequested)
            {
                AbortAll();
                ExitLoop();
                return;
            }

            if (TakeIncoming())
            {
                _waitingCount = 0;
                if (!WaitForWork())
                {
                    ExitLoop();
                    return;
                }

                continue;
            }

            Step();
        }
    }

    /// <summary>Moves what admission could use from the channel to the scheduler and drops cancelled requests; true when nothing is left to step.</summary>
    private bool TakeIncoming()
    {
        // Take from the bounded channel only what admission could use soon, so QueueCapacity (the
        // channel's bound) really limits how many requests wait.
        ProcessAdapterUnloads();
        while (_scheduler.Waiting.Count < Options.MaxRunningRequests && _incoming.Reader.TryRead(out var sequence))
        {
            if (IsAdapterStale(sequence))
            {
                EmitAdapterUnloaded(sequence);
                continue;
            }

            _scheduler.Enqueue(sequence);
        }

        DropCancelled();
        return _scheduler.IsIdle;
    }

    private void Step()
    {
        // Schedule: who decodes, which chunks run, who is admitted (and takes a slot).
        _scheduler.Schedule(_slots.FreeCount, _plan);
        foreach (var s in _plan.Admitted)
        {
            _slots.Assign(s);
            s.Admit(VocabSize);
        }

        // Visible before the first token of an admitted request leaves this step (a reader of RunningCount
        // that has seen a token must also see the request running).
        _runningCount = _scheduler.Running.Count;
        _waitingCount = _scheduler.Waiting.Count;
        _planner.Plan(_plan);

        // Run and postprocess, Run by Run: a Run's logits live until the next Run. Slots do not move
        // until every Run is done, so finishing a request mid-step disturbs no other row.
        var report = default(StepReport);
        try
        {
            BeforeStep?.Invoke(_stepCount);
            foreach (var run in _planner.Runs)
            {
                var logits = _runner.Execute(run, _planner);
                report = Count(report, run);
                var vocab = _runner.VocabSize;
                foreach (var (s, row) in _runner.SampleRows)
                {
                    SampleAndAccept(s, logits.Slice(row * vocab, vocab));
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault fails the requests of this step only (each is in the plan once); the engine goes on.
            foreach (var c in _plan.Chunks)
            {
                Finish(c.Sequence, FinishReason.Error, "engine step failed: " + e.Message);
            }

            foreach (var s in _plan.Decodes)
            {
                Finish(s, FinishReason.Error, "engine step failed: " + e.Message);
            }
        }

        _slots.Compact(_finished, _scheduler.Running);
        EmitFinished();
        Interlocked.Increment(ref _stepCount);
        PublishStats();
        StepCompleted?.Invoke(report);
    }

    private StepReport Count(StepReport r, in Run run) => run.Kind switch
    {
        RunKind.Decode => r with { DecodeTokens = _planner.DecodeRows.Count, DecodeRuns = r.DecodeRuns + 1 },
        RunKind.Mixed => r with { DecodeTokens = _planner.DecodeRows.Count, ChunkTokens = r.ChunkTokens + run.Length, MixedRuns = r.MixedRuns + 1 },
        RunKind.Chunk => r with { ChunkTokens = r.ChunkTokens + run.Length, ChunkRuns = r.ChunkRuns + 1 },
        _ => r with { ChunkTokens = r.ChunkTokens + FirstChunkTokens(run), ChunkRuns = r.ChunkRuns + 1 },
    };

    private int FirstChunkTokens(in Run run)
    {
        var tokens = 0;
        for (var i = run.First; i < run.First + run.Rows; i++)
        {
            tokens += _planner.FirstChunks[i].Length;
        }

        return tokens;
    }

    /// <summary>Samples a request's next token from its row of logits [vocab], records it, and finishes the request when it should stop.</summary>
    private void SampleAndAccept(Sequence s, ReadOnlySpan<float> logits)
    {
        var constraint = s.Request.Constraint;
        var mask = constraint is null ? null : s.Mask ??= new uint[constraint.MaskLength];
        if (TokenSelector.TrySelect(s.Sampler, constraint, mask, logits, out var token) is { } error)
        {
            Finish(s, FinishReason.Error, error);
            return;
        }

        s.Tokens.Add(token.Id);
        Interlocked.Increment(ref _generatedTokenCount);
        var now = Stopwatch.GetTimestamp();
        if (s.FirstTokenTimestamp == 0)
        {
            s.FirstTokenTimestamp = now;
        }
        else
        {
            InterTokenLatency?.Invoke(Stopwatch.GetElapsedTime(s.LastTokenTimestamp, now).TotalSeconds);
        }

        s.LastTokenTimestamp = now;
        var isStop = _stopCriteria.IsStop(token.Id, s.Request.IgnoreEos, s.Request.StopTokenIds, constraint);
        s.Output.TryWrite(new TokenEvent(token, isStop));
        if (_stopCriteria.Check(isStop, s.GeneratedCount, s.Request.MaxTokens, s.Tokens.Count) is { } reason)
        {
            Finish(s, reason);
        }
    }

    /// <summary>
    /// Ends a running request now (it leaves the running set); its slot is freed and its finish event sent
    /// by <see cref="EmitFinished"/>, once per step after sampling.
    /// </summary>
    private void Finish(Sequence s, FinishReason reason, string? error = null)
    {
        if (!_scheduler.Remove(s))
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        var start = s.ArrivalTimestamp;
        s.Finished = new FinishEvent(
            reason,
            s.PromptLength,
            s.GeneratedCount,
            Stopwatch.GetElapsedTime(start, s.AdmittedTimestamp).TotalSeconds,
            s.FirstTokenTimestamp == 0 ? 0 : Stopwatch.GetElapsedTime(start, s.FirstTokenTimestamp).TotalSeconds,
            Stopwatch.GetElapsedTime(start, now).TotalSeconds,
            error);
        _finished.Add(s);
        _runningCount = _scheduler.Running.Count;
    }

    /// <summary>Sends the finish events of the requests finished since the last call, after their slots were freed.</summary>
    private void EmitFinished()
    {
        foreach (var s in _finished)
        {
            Emit(s.Output, s.Finished!);
        }

        _finished.Clear();
    }

    /// <summary>The last event of a request: to its stream (read or not), then to <see cref="RequestFinished"/>.</summary>
    private void Emit(ChannelWriter<EngineEvent> output, FinishEvent finish)
    {
        output.TryWrite(finish);
        output.TryComplete();
        RequestFinished?.Invoke(finish);
    }
}
