using System.Diagnostics;
using System.Threading.Channels;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Execution;

/// <summary>
/// The continuous-batching engine. One dedicated thread owns the scheduler, the KV slots and every
/// request's state (no locks); requests arrive through a bounded channel and results leave through one
/// channel per request. Each step: the scheduler plans decodes and prompt chunks under the token budget,
/// the chunks run on their slots (batch 1, on top of their past), all decoding requests run in one
/// batched Run over a contiguous slot range, tokens are sampled, finished requests free their slots.
/// </summary>
/// <remarks>
/// Slot layout: decoding requests occupy slots [0, D) so one Run covers them; requests still in their
/// prompt take free slots from the top. When a prompt completes, its KV moves down to slot D (swapping
/// through a spare slot when D is taken); when a decoding request ends, the one in slot D-1 moves into
/// its place. A move copies only the positions in use.
/// </remarks>
public sealed class LlmEngine : IDisposable
{
    private readonly ModelFolder _model;
    private readonly Scheduler _scheduler;
    private readonly KvCache _cache;
    private readonly DecoderRunner _runner;
    private readonly Channel<Pending> _incoming;
    private readonly Thread _thread;
    private readonly HashSet<int> _eos;
    private readonly int _spareSlot;
    private readonly Sequence?[] _slots;
    private readonly List<Sequence> _running = [];   // admission order
    private readonly Queue<Pending> _waiting = new();
    private readonly StepPlan _plan = new();
    private readonly List<SequenceView> _views = [];
    private readonly List<int> _waitingLengths = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Dictionary<long, Sequence> _byId = [];
    private readonly List<Sequence> _stepChunks = [];
    private readonly List<Sequence> _decodeRows = [];
    private readonly long[] _ids;        // [max(MaxTokensPerRun, MaxRunningRequests)] token ids of one Run
    private readonly int[] _past;        // [MaxRunningRequests] per-row past lengths of the decode Run
    private readonly int[] _valid;       // [MaxRunningRequests] ones
    private readonly int[] _zeros;       // [MaxRunningRequests] past lengths of a first-chunk Run
    private readonly int[] _chunkValid;  // [MaxRunningRequests] real tokens per row of a first-chunk Run
    private readonly List<(Sequence Sequence, int Length)> _firstChunks = [];
    private static readonly Comparison<Sequence> BySlot = (a, b) => a.Slot.CompareTo(b.Slot);
    private long _nextId;
    private int _decodeCount;
    private volatile int _runningCount, _waitingCount;
    private long _stepCount, _usedTokens, _generatedTokenCount;
    private int _decodeRuns, _chunkRuns, _mixedRuns; // this step's

    public LlmEngine(ModelFolder model, EngineOptions options, IReadOnlyCollection<int>? extraEosTokenIds = null)
    {
        options.Validate();
        _model = model;
        Options = options;
        _scheduler = new Scheduler(options);
        var c = model.Config;
        ContextLength = c.ContextLength;
        _spareSlot = options.MaxRunningRequests;
        _cache = new KvCache(c.Decoder.NumHiddenLayers, options.MaxRunningRequests + 1, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize);
        _runner = new DecoderRunner(model.Session, c, _cache, Math.Max(options.MaxBatchTokens, options.MaxRunningRequests), options.MixedRuns ? model.MixedSession : null);
        _slots = new Sequence?[_cache.SlotCount];
        _ids = new long[Math.Max(_runner.MaxTokensPerRun, options.MaxRunningRequests)];
        _past = new int[options.MaxRunningRequests];
        _valid = Enumerable.Repeat(1, options.MaxRunningRequests).ToArray();
        _zeros = new int[options.MaxRunningRequests];
        _chunkValid = new int[options.MaxRunningRequests];
        _eos = [.. c.EosTokenIds, .. extraEosTokenIds ?? []];
        _incoming = Channel.CreateBounded<Pending>(new BoundedChannelOptions(options.QueueCapacity) { SingleReader = true });
        _thread = new Thread(Loop) { IsBackground = true, Name = "flywheel-engine" };
        _thread.Start();
    }

    public EngineOptions Options { get; }

    public int ContextLength { get; }

    public int VocabSize => _model.Config.VocabSize;

    /// <summary>Requests holding a KV slot.</summary>
    public int RunningCount => _runningCount;

    /// <summary>Requests waiting for admission (in the engine's queue).</summary>
    public int WaitingCount => _waitingCount + _incoming.Reader.Count;

    /// <summary>Steps run so far.</summary>
    public long StepCount => Interlocked.Read(ref _stepCount);

    /// <summary>Fraction of the KV cache's token positions in use, 0..1.</summary>
    public double KvCacheUsage => Interlocked.Read(ref _usedTokens) / (double)((long)Options.MaxRunningRequests * ContextLength);

    /// <summary>Tokens sampled so far for all requests (the stop tokens that end requests included), whether or not anyone read them.</summary>
    public long GeneratedTokenCount => Interlocked.Read(ref _generatedTokenCount);

    /// <summary>Called on the engine thread after each step with what it ran.</summary>
    public Action<StepReport>? StepCompleted { get; set; }

    /// <summary>
    /// Called on the engine thread once for every accepted request, with the same finish event its output
    /// stream gets, whether or not its reader is still there (aborted requests included). Must not throw.
    /// </summary>
    public Action<FinishEvent>? RequestFinished { get; set; }

    /// <summary>Called on the engine thread with the seconds between two consecutive tokens of one request. Must not throw.</summary>
    public Action<double>? InterTokenLatency { get; set; }

    /// <summary>Test hook: called on the engine thread before each step's model runs; may throw to simulate a fault.</summary>
    internal Action<long>? BeforeStep { get; set; }

    /// <summary>
    /// Queues a request without blocking. Refuses (Error) a request that cannot fit the context or has bad
    /// sampling parameters, and reports QueueFull when the queue is at capacity.
    /// </summary>
    public SubmitOutcome TrySubmit(EngineRequest request)
    {
        var id = Interlocked.Increment(ref _nextId);
        var errors = request.Sampling.Validate();
        if (errors.Count > 0)
        {
            return new SubmitOutcome(id, null, string.Join("; ", errors), false);
        }

        if (request.PromptIds.Count == 0 || request.PromptIds.Count >= ContextLength)
        {
            return new SubmitOutcome(id, null, $"the prompt has {request.PromptIds.Count} tokens; it must have between 1 and {ContextLength - 1} (context length {ContextLength})", false);
        }

        if (request.MaxTokens < 1 || request.PromptIds.Count + (long)request.MaxTokens > ContextLength)
        {
            return new SubmitOutcome(id, null, $"prompt ({request.PromptIds.Count} tokens) + max_tokens ({request.MaxTokens}) exceeds the context length {ContextLength}", false);
        }

        if (request.PromptIds.Any(t => (uint)t >= (uint)VocabSize))
        {
            return new SubmitOutcome(id, null, $"the prompt holds a token id outside the vocabulary (size {VocabSize})", false);
        }

        var output = Channel.CreateUnbounded<EngineEvent>(new UnboundedChannelOptions { SingleWriter = true });
        if (_stop.IsCancellationRequested || !_incoming.Writer.TryWrite(new Pending(id, request, output.Writer, Stopwatch.GetTimestamp())))
        {
            return new SubmitOutcome(id, null, null, QueueFull: true);
        }

        return new SubmitOutcome(id, output.Reader, null, false);
    }

    /// <summary>Stops taking requests, lets running ones finish for up to <paramref name="drainTimeout"/>, then aborts the rest.</summary>
    public void Shutdown(TimeSpan drainTimeout)
    {
        _incoming.Writer.TryComplete();
        if (!_thread.Join(drainTimeout))
        {
            _stop.Cancel();
            _thread.Join();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _incoming.Writer.TryComplete();
        _thread.Join();
        _runner.Dispose();
        _cache.Dispose();
        _stop.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            // Take from the bounded channel only what admission could use soon, so QueueCapacity (the
            // channel's bound) really limits how many requests wait.
            while (_waiting.Count < Options.MaxRunningRequests && _incoming.Reader.TryRead(out var pending))
            {
                _waiting.Enqueue(pending);
            }

            if (_stop.IsCancellationRequested)
            {
                AbortAll();
                return;
            }

            DropCancelled();
            if (_running.Count == 0 && _waiting.Count == 0)
            {
                _waitingCount = 0;
                try
                {
                    if (!_incoming.Reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
                    {
                        return; // completed and drained
                    }
                }
                catch (OperationCanceledException)
                {
                    AbortAll();
                    return;
                }

                continue;
            }

            Step();
        }
    }

    private void Step()
    {
        _views.Clear();
        foreach (var s in _running)
        {
            _views.Add(new SequenceView(s.Id, s.PromptLength, s.Computed));
        }

        _waitingLengths.Clear();
        foreach (var w in _waiting)
        {
            _waitingLengths.Add(w.Request.PromptIds.Count);
        }

        _scheduler.Plan(_views, _waitingLengths, FreeSlotCount(), _plan);
        // Every request this step touches, known before anything runs, so a fault fails exactly these.
        // Chunks of newly admitted requests carry ids -1, -2, ... in admission order.
        var firstAdmitted = _running.Count;
        for (var i = 0; i < _plan.AdmittedCount; i++)
        {
            Admit(_waiting.Dequeue());
        }

        _waitingCount = _waiting.Count;
        _stepChunks.Clear();
        foreach (var c in _plan.Chunks)
        {
            _stepChunks.Add(c.Id < 0 ? _running[firstAdmitted + (int)(-1 - c.Id)] : _byId[c.Id]);
        }

        _decodeRows.Clear();
        foreach (var id in _plan.Decodes)
        {
            _decodeRows.Add(_byId[id]);
        }

        int decodeTokens = 0, chunkTokens = 0;
        (_decodeRuns, _chunkRuns, _mixedRuns) = (0, 0, 0);
        try
        {
            BeforeStep?.Invoke(_stepCount);
            var mixed = MixedChunk();
            _firstChunks.Clear();
            for (var i = 0; i < _plan.Chunks.Count; i++)
            {
                var (start, length) = (_plan.Chunks[i].Start, _plan.Chunks[i].Length);
                if (i == mixed)
                {
                    // Runs with the decodes below.
                }
                else if (start == 0 && length <= _runner.MaxTokensPerRun)
                {
                    _firstChunks.Add((_stepChunks[i], length));
                }
                else
                {
                    RunChunk(_stepChunks[i], start, length);
                }

                chunkTokens += length;
            }

            RunFirstChunks();

            if (mixed >= 0)
            {
                RunMixed(_decodeRows, _stepChunks[mixed], _plan.Chunks[mixed].Start, _plan.Chunks[mixed].Length);
                decodeTokens = _decodeRows.Count;
            }
            else if (_decodeRows.Count > 0)
            {
                RunDecode(_decodeRows);
                decodeTokens = _decodeRows.Count;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A fault fails the requests of this step only; the engine goes on with the rest.
            foreach (var s in _stepChunks.Concat(_decodeRows).Distinct().ToList())
            {
                Finish(s, FinishReason.Error, "engine step failed: " + e.Message);
            }
        }

        CompactPrefilled();
        Interlocked.Increment(ref _stepCount);
        PublishStats();
        StepCompleted?.Invoke(new StepReport(decodeTokens, chunkTokens, _decodeRuns, _chunkRuns, _mixedRuns));
    }

    private void RunChunk(Sequence s, int start, int length)
    {
        // A chunk larger than one Run can carry (prefill-first, sequential) runs in pieces within this step.
        ReadOnlySpan<float> logits = default;
        var capacity = _runner.MaxTokensPerRun;
        for (var offset = 0; offset < length; offset += capacity)
        {
            var n = Math.Min(capacity, length - offset);
            for (var i = 0; i < n; i++)
            {
                _ids[i] = s.Tokens[start + offset + i];
            }

            logits = _runner.Run(s.Slot, 1, n, _ids.AsSpan(0, n), [start + offset], [n]);
            _chunkRuns++;
            s.Computed = start + offset + n;
        }

        if (s.Computed == s.PromptLength)
        {
            var vocab = _runner.VocabSize;
            var last = (s.PromptLength - start - 1) % capacity;
            SampleAndAccept(s, logits.Slice(last * vocab, vocab));
        }
    }

    /// <summary>
    /// Estimated fixed cost of one Run in tokens' worth of work (every Run streams all weights once). The
    /// run-cost benchmark fits chunk Runs on the bench preset at ~4.5-8 ms + ~0.22 ms per token: 20-33 tokens.
    /// Used to decide when right padding is cheaper than another Run.
    /// </summary>
    internal const int RunOverheadTokens = 24;

    /// <summary>
    /// Runs this step's first chunks (no past yet). GroupQueryAttention takes several of them in one Run with
    /// right padding, so neighbours in slot order share a Run while it fits in one Run and the padding costs
    /// less than the Run it saves; the rest run alone.
    /// </summary>
    private void RunFirstChunks()
    {
        if (_firstChunks.Count == 0)
        {
            return;
        }

        _firstChunks.Sort(static (a, b) => a.Sequence.Slot.CompareTo(b.Sequence.Slot));
        var capacity = _runner.MaxTokensPerRun;
        var begin = 0;
        while (begin < _firstChunks.Count)
        {
            var (end, width) = (begin + 1, _firstChunks[begin].Length);
            while (end < _firstChunks.Count && _firstChunks[end].Sequence.Slot == _firstChunks[end - 1].Sequence.Slot + 1)
            {
                var length = _firstChunks[end].Length;
                var rows = end - begin + 1;
                var merged = rows * Math.Max(width, length);
                var separate = ((rows - 1) * width) + length + RunOverheadTokens;
                if (merged > capacity || merged > separate)
                {
                    break;
                }

                width = Math.Max(width, length);
                end++;
            }

            RunFirstChunkGroup(begin, end - begin, width);
            begin = end;
        }
    }

    private void RunFirstChunkGroup(int begin, int rows, int width)
    {
        if (rows == 1)
        {
            RunChunk(_firstChunks[begin].Sequence, 0, _firstChunks[begin].Length);
            return;
        }

        for (var r = 0; r < rows; r++)
        {
            var (s, length) = _firstChunks[begin + r];
            var row = _ids.AsSpan(r * width, width);
            for (var i = 0; i < length; i++)
            {
                row[i] = s.Tokens[i];
            }

            row[length..].Clear();
            _chunkValid[r] = length;
        }

        var logits = _runner.Run(_firstChunks[begin].Sequence.Slot, rows, width, _ids.AsSpan(0, rows * width), _zeros.AsSpan(0, rows), _chunkValid.AsSpan(0, rows));
        _chunkRuns++;
        for (var r = 0; r < rows; r++)
        {
            _firstChunks[begin + r].Sequence.Computed = _firstChunks[begin + r].Length;
        }

        // Prompts that completed take their first token from the row's last real position. Rows here are
        // still outside the decode region, so finishing one moves no other row.
        var vocab = _runner.VocabSize;
        for (var r = 0; r < rows; r++)
        {
            var (s, length) = _firstChunks[begin + r];
            if (s.Computed == s.PromptLength)
            {
                SampleAndAccept(s, logits.Slice(((r * width) + length - 1) * vocab, vocab));
            }
        }
    }

    /// <summary>
    /// The chunk of this step's plan that runs in one mixed Run with the decodes, or -1: with the mixed graph
    /// and decodes to run, the first chunk that continues a prompt (it would need a Run of its own), else the
    /// longest first chunk (the rest of the first chunks still share their padded Run).
    /// </summary>
    private int MixedChunk()
    {
        if (!_runner.CanRunMixed || _decodeRows.Count == 0)
        {
            return -1;
        }

        var best = -1;
        for (var i = 0; i < _plan.Chunks.Count; i++)
        {
            var c = _plan.Chunks[i];
            if (_decodeRows.Count + c.Length > _runner.MaxTokensPerRun)
            {
                continue;
            }

            if (c.Start > 0)
            {
                return i;
            }

            if (best < 0 || c.Length > _plan.Chunks[best].Length)
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>The decodes and one prompt chunk in a single Run of the mixed graph (see <see cref="MixedChunk"/>).</summary>
    private void RunMixed(List<Sequence> rows, Sequence s, int start, int length)
    {
        var first = PrepareDecodeRows(rows);
        var chunk = _ids.AsSpan(rows.Count, length);
        for (var i = 0; i < length; i++)
        {
            chunk[i] = s.Tokens[start + i];
        }

        var logits = _runner.RunMixed(first, rows.Count, _ids.AsSpan(0, rows.Count), _past.AsSpan(0, rows.Count), s.Slot, chunk, start);
        _mixedRuns++;
        s.Computed = start + length;

        // The chunk's request first, as when the chunk runs before the decodes: it is outside the decode
        // region, so finishing it moves no row.
        var vocab = _runner.VocabSize;
        if (s.Computed == s.PromptLength)
        {
            SampleAndAccept(s, logits.Slice((rows.Count + length - 1) * vocab, vocab));
        }

        AcceptDecodes(rows, logits);
    }

    private void RunDecode(List<Sequence> rows)
    {
        var first = PrepareDecodeRows(rows);
        var logits = _runner.Run(first, rows.Count, 1, _ids.AsSpan(0, rows.Count), _past.AsSpan(0, rows.Count), _valid.AsSpan(0, rows.Count));
        _decodeRuns++;
        AcceptDecodes(rows, logits);
    }

    /// <summary>
    /// Puts the decoding requests in slot order (they sit in slots [0, D): one Run over the range) and writes
    /// their next input token and past length to _ids / _past [0, rows). Returns the first slot.
    /// </summary>
    private int PrepareDecodeRows(List<Sequence> rows)
    {
        rows.Sort(BySlot);
        var first = rows[0].Slot;
        if (rows[^1].Slot - first + 1 != rows.Count)
        {
            throw new InvalidOperationException("decoding requests are not in contiguous slots");
        }

        for (var r = 0; r < rows.Count; r++)
        {
            _ids[r] = rows[r].Tokens[rows[r].Computed];
            _past[r] = rows[r].Computed;
        }

        return first;
    }

    /// <summary>Samples each decode row from logits row r, after every row's cache has grown by one.</summary>
    private void AcceptDecodes(List<Sequence> rows, ReadOnlySpan<float> logits)
    {
        // Every row's cache grew by one before any row is accepted: accepting may finish a request and
        // move another row's KV into its slot, and that copy must include the position just written.
        foreach (var row in rows)
        {
            row.Computed++;
        }

        var vocab = _runner.VocabSize;
        for (var r = 0; r < rows.Count; r++)
        {
            SampleAndAccept(rows[r], logits.Slice(r * vocab, vocab));
        }
    }

    /// <summary>
    /// Samples the next token from one row of logits [vocab], through the request's constraint when it has
    /// one. A constraint that allows nothing, or refuses the token it allowed, fails this request only.
    /// </summary>
    private void SampleAndAccept(Sequence s, ReadOnlySpan<float> logits)
    {
        if (s.Request.Constraint is not { } constraint)
        {
            Accept(s, s.Sampler.Sample(logits));
            return;
        }

        SampledToken token;
        try
        {
            var mask = s.Mask ??= new uint[constraint.MaskLength];
            constraint.ComputeMask(mask);
            if (!AnyAllowed(mask, logits.Length))
            {
                Finish(s, FinishReason.Error, "the response format allows no next token");
                return;
            }

            token = s.Sampler.Sample(logits, mask);
            if (!constraint.TryAccept(token.Id))
            {
                Finish(s, FinishReason.Error, $"the response format refused token {token.Id} that its mask allowed");
                return;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A constraint bug fails its own request, not the others of this step.
            Finish(s, FinishReason.Error, "the response format failed: " + e.Message);
            return;
        }

        Accept(s, token);
    }

    private static bool AnyAllowed(ReadOnlySpan<uint> mask, int vocabSize)
    {
        var words = Math.Min(mask.Length, (vocabSize + 31) / 32);
        for (var w = 0; w < words; w++)
        {
            var bits = mask[w];
            if (w == (vocabSize - 1) / 32 && vocabSize % 32 != 0)
            {
                bits &= (1u << (vocabSize % 32)) - 1;
            }

            if (bits != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Records a sampled token and finishes the request when it should stop.</summary>
    private void Accept(Sequence s, SampledToken token)
    {
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

        // A finished constraint (its end-of-sequence accepted) ends the request even under ignore_eos.
        var isStop = (!s.Request.IgnoreEos && (_eos.Contains(token.Id) || s.Request.StopTokenIds.Contains(token.Id)))
            || s.Request.Constraint is { IsFinished: true };
        s.Output.TryWrite(new TokenEvent(token, isStop));
        var generated = s.Tokens.Count - s.PromptLength;
        if (isStop)
        {
            Finish(s, FinishReason.Stop);
        }
        else if (generated >= s.Request.MaxTokens || s.Tokens.Count >= ContextLength)
        {
            Finish(s, FinishReason.Length);
        }
    }

    private Sequence Admit(Pending p)
    {
        // Prompts take free slots from the top; the decode region grows from slot 0.
        var slot = -1;
        for (var i = Options.MaxRunningRequests - 1; i >= _decodeCount; i--)
        {
            if (_slots[i] is null)
            {
                slot = i;
                break;
            }
        }

        var s = new Sequence(p, slot, new TokenSampler(VocabSize, p.Request.Sampling, p.Request.PromptIds));
        _slots[slot] = s;
        _running.Add(s);
        _byId[s.Id] = s;
        // Visible before the request's first token leaves this step (a reader of RunningCount that has
        // seen a token must also see the request running).
        _runningCount = _running.Count;
        return s;
    }

    /// <summary>Moves requests whose prompt completed this step into the decode region.</summary>
    private void CompactPrefilled()
    {
        foreach (var s in _running)
        {
            if (s.InDecodeRegion || s.Computed < s.PromptLength)
            {
                continue;
            }

            var target = _decodeCount;
            if (s.Slot != target)
            {
                if (_slots[target] is { } other)
                {
                    // Swap through the spare slot: other -> spare, s -> target, spare -> s's old slot.
                    _cache.CopySlot(target, _spareSlot, other.Computed);
                    _cache.CopySlot(s.Slot, target, s.Computed);
                    _cache.CopySlot(_spareSlot, s.Slot, other.Computed);
                    (_slots[s.Slot], other.Slot) = (other, s.Slot);
                }
                else
                {
                    _cache.CopySlot(s.Slot, target, s.Computed);
                    _slots[s.Slot] = null;
                }

                s.Slot = target;
                _slots[target] = s;
            }

            s.InDecodeRegion = true;
            _decodeCount++;
        }
    }

    private void Finish(Sequence s, FinishReason reason, string? error = null)
    {
        if (!_running.Remove(s))
        {
            return;
        }

        _byId.Remove(s.Id);
        var now = Stopwatch.GetTimestamp();
        var start = s.Pending.ArrivalTimestamp;
        Emit(s.Output, new FinishEvent(
            reason,
            s.PromptLength,
            s.Tokens.Count - s.PromptLength,
            Stopwatch.GetElapsedTime(start, s.AdmittedTimestamp).TotalSeconds,
            s.FirstTokenTimestamp == 0 ? 0 : Stopwatch.GetElapsedTime(start, s.FirstTokenTimestamp).TotalSeconds,
            Stopwatch.GetElapsedTime(start, now).TotalSeconds,
            error));
        _slots[s.Slot] = null;
        if (s.InDecodeRegion)
        {
            // Keep [0, D) dense: the request in the last decode slot moves into the hole.
            var last = _decodeCount - 1;
            if (s.Slot != last && _slots[last] is { } moved)
            {
                _cache.CopySlot(last, s.Slot, moved.Computed);
                _slots[last] = null;
                moved.Slot = s.Slot;
                _slots[s.Slot] = moved;
            }

            _decodeCount--;
        }

        _runningCount = _running.Count;
    }

    /// <summary>The last event of a request: to its stream (read or not), then to <see cref="RequestFinished"/>.</summary>
    private void Emit(ChannelWriter<EngineEvent> output, FinishEvent finish)
    {
        output.TryWrite(finish);
        output.TryComplete();
        RequestFinished?.Invoke(finish);
    }

    private void DropCancelled()
    {
        for (var i = _running.Count - 1; i >= 0; i--)
        {
            var request = _running[i].Request;
            if (request.StopCancellationToken.IsCancellationRequested)
            {
                Finish(_running[i], FinishReason.Stop);
            }
            else if (request.CancellationToken.IsCancellationRequested)
            {
                Finish(_running[i], FinishReason.Abort);
            }
        }

        if (_waiting.Any(w => w.Request.CancellationToken.IsCancellationRequested))
        {
            var keep = _waiting.Where(w => !w.Request.CancellationToken.IsCancellationRequested).ToList();
            foreach (var w in _waiting.Except(keep))
            {
                Emit(w.Output, new FinishEvent(FinishReason.Abort, w.Request.PromptIds.Count, 0, 0, 0, Stopwatch.GetElapsedTime(w.ArrivalTimestamp).TotalSeconds));
            }

            _waiting.Clear();
            keep.ForEach(_waiting.Enqueue);
        }

        _waitingCount = _waiting.Count;
        PublishStats();
    }

    /// <summary>Makes running count and KV usage visible to other threads (metrics, admission hints).</summary>
    private void PublishStats()
    {
        _runningCount = _running.Count;
        var used = 0L;
        foreach (var s in _running)
        {
            used += s.Computed;
        }

        Interlocked.Exchange(ref _usedTokens, used);
    }

    private void AbortAll()
    {
        foreach (var s in _running.ToList())
        {
            Finish(s, FinishReason.Abort, "the engine shut down");
        }

        while (_waiting.TryDequeue(out var w) || _incoming.Reader.TryRead(out w))
        {
            Emit(w.Output, new FinishEvent(FinishReason.Abort, w.Request.PromptIds.Count, 0, 0, 0, 0, "the engine shut down"));
        }

        _runningCount = 0;
        _waitingCount = 0;
    }

    private int FreeSlotCount()
    {
        var free = 0;
        for (var i = 0; i < Options.MaxRunningRequests; i++)
        {
            free += _slots[i] is null ? 1 : 0;
        }

        return free;
    }

    /// <summary>Slots in use, for invariant checks in tests (engine thread state read after the engine is idle).</summary>
    internal int OccupiedSlotCount => Options.MaxRunningRequests - FreeSlotCount();

    private sealed record Pending(long Id, EngineRequest Request, ChannelWriter<EngineEvent> Output, long ArrivalTimestamp);

    private sealed class Sequence(Pending pending, int slot, TokenSampler sampler)
    {
        public Pending Pending { get; } = pending;

        public long Id => Pending.Id;

        public EngineRequest Request => Pending.Request;

        public ChannelWriter<EngineEvent> Output => Pending.Output;

        public List<int> Tokens { get; } = [.. pending.Request.PromptIds];

        public int PromptLength { get; } = pending.Request.PromptIds.Count;

        public TokenSampler Sampler { get; } = sampler;

        public int Slot { get; set; } = slot;

        /// <summary>Tokens in the KV cache.</summary>
        public int Computed { get; set; }

        public bool InDecodeRegion { get; set; }

        public long AdmittedTimestamp { get; } = Stopwatch.GetTimestamp();

        public long FirstTokenTimestamp { get; set; }

        public long LastTokenTimestamp { get; set; }

        /// <summary>[MaskLength] the constraint's allowed-token bitmask, allocated on the first constrained token.</summary>
        public uint[]? Mask { get; set; }
    }
}
