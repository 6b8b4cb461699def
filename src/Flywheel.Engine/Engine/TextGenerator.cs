using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Tokenization;

namespace Flywheel.Execution;

/// <summary>Settings of one generation.</summary>
public sealed record GenerateParams
{
    public int MaxTokens { get; init; } = 64;

    /// <summary>How tokens are picked (greedy by default).</summary>
    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Keep going past end-of-sequence tokens (benchmarks).</summary>
    public bool IgnoreEos { get; init; }
}

/// <summary>What one generation produced, with its timings (prefill: until the first token; decode: after it).</summary>
public sealed record GenerateResult(string Text, IReadOnlyList<int> TokenIds, IReadOnlyList<SampledToken> Tokens, int PromptTokenCount, FinishReason FinishReason, double PrefillSeconds, double DecodeSeconds)
{
    /// <summary>Decode speed: tokens after the first, per second of decode time.</summary>
    public double DecodeTokensPerSecond => TokenIds.Count > 1 && DecodeSeconds > 0 ? (TokenIds.Count - 1) / DecodeSeconds : 0;
}

/// <summary>
/// Text in, text out, one request at a time: a thin client of an <see cref="LlmEngine"/> with one KV slot
/// (what <c>flywheel generate</c> runs, and the "alone" reference of the batching tests). It only
/// tokenizes, submits, and detokenizes the engine's tokens as they come.
/// </summary>
public sealed class TextGenerator : IDisposable
{
    private readonly Tokenizer _tokenizer;
    private readonly LlmEngine _engine;
    private readonly Lock _gate = new();

    public TextGenerator(ModelFolder model, Tokenizer tokenizer, int chunkSize = 256)
    {
        _tokenizer = tokenizer;
        chunkSize = Math.Max(2, Math.Min(chunkSize, model.Config.ContextLength));
        var options = new EngineOptions { MaxRunningRequests = 1, QueueCapacity = 1, MaxBatchTokens = chunkSize, ChunkSize = chunkSize };
        // The engine's steps run on the caller's thread: one client, so each token is read where it was
        // sampled, with no hop between threads (on a 2-core host that hop cost up to a tenth of decode speed).
        _engine = new LlmEngine(model, options, tokenizer.EosTokenIds, ownThread: false);
    }

    /// <summary>Prompt token ids (see <see cref="Tokenizer.EncodePrompt"/>).</summary>
    public int[] EncodePrompt(string prompt) => _tokenizer.EncodePrompt(prompt);

    /// <summary>
    /// Generates from <paramref name="promptIds"/>. <paramref name="onToken"/> receives each token with the text it
    /// completed (possibly empty) and returns false to stop there (finish reason Stop); after the last token
    /// it may receive held-back text with a token id of -1. Cancellation ends the generation with finish reason Abort.
    /// </summary>
    /// <exception cref="ArgumentException">The engine refused the request (the prompt does not fit the context, bad sampling parameters).</exception>
    public GenerateResult Generate(IReadOnlyList<int> promptIds, GenerateParams p, Func<SampledToken, string, bool>? onToken = null, CancellationToken cancellationToken = default)
    {
        // The caller's thread runs the engine's steps: one generation at a time.
        lock (_gate)
        {
            return GenerateOne(promptIds, p, onToken, cancellationToken);
        }
    }

    private GenerateResult GenerateOne(IReadOnlyList<int> promptIds, GenerateParams p, Func<SampledToken, string, bool>? onToken, CancellationToken cancellationToken)
    {
        using var stop = new CancellationTokenSource();
        var context = _engine.ContextLength;
        var outcome = _engine.TrySubmit(new EngineRequest
        {
            PromptIds = promptIds,
            MaxTokens = Math.Max(1, Math.Min(p.MaxTokens, context - promptIds.Count)),
            Sampling = p.Sampling,
            IgnoreEos = p.IgnoreEos,
            CancellationToken = cancellationToken,
            StopCancellationToken = stop.Token,
        });
        if (outcome.Events is not { } events)
        {
            throw new ArgumentException(outcome.Error ?? "the engine is busy");
        }

        var sampled = new List<SampledToken>();
        var decoder = _tokenizer.CreateStreamDecoder();
        var text = new System.Text.StringBuilder();
        var stoppedByCaller = false;
        FinishEvent? finish = null;
        void ReadEvents()
        {
            while (events.TryRead(out var e))
            {
                Handle(e);
            }
        }

        _engine.RunUntilIdle(ReadEvents);
        ReadEvents(); // a request cancelled between steps ends when the engine finds it idle

        void Handle(EngineEvent e)
        {
            if (e is FinishEvent f)
            {
                finish = f;
            }
            else if (e is TokenEvent { Token: var token, IsStopToken: var isStop } && !stoppedByCaller)
            {
                sampled.Add(token);
                if (isStop)
                {
                    return;
                }

                var piece = decoder.Append(token.Id);
                text.Append(piece);
                if (onToken is not null && !onToken(token, piece))
                {
                    stoppedByCaller = true; // later tokens of the step that sees the stop are dropped
                    stop.Cancel();
                }
            }
        }

        var reason = stoppedByCaller ? FinishReason.Stop : finish!.Reason;
        if (finish!.Reason == FinishReason.Error)
        {
            throw new InvalidOperationException(finish.Error);
        }

        var tail = decoder.Flush();
        text.Append(tail);
        if (tail.Length > 0 && reason != FinishReason.Stop)
        {
            onToken?.Invoke(new SampledToken(-1, 0, null), tail);
        }

        var ids = sampled.ConvertAll(t => t.Id);
        return new GenerateResult(text.ToString(), ids, sampled, promptIds.Count, reason, finish.TimeToFirstTokenSeconds, finish.EndToEndSeconds - finish.TimeToFirstTokenSeconds);
    }

    public void Dispose() => _engine.Dispose();
}
