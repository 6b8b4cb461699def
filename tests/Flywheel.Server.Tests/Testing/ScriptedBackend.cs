using System.Threading.Channels;
using Flywheel.Sampling;
using Flywheel.Serving;
using Flywheel.Templates;

namespace Flywheel.Server.Tests.Testing;

/// <summary>
/// A deterministic stand-in for the engine, for the server tests. A request's "script" is the words of its
/// prompt (completions) or of its last message (chat); it generates them back one token per word, each with
/// a leading space (" w0 w1 ..."), then stops ("stop"), or cycles through them with <c>ignore_eos</c>;
/// max_tokens cuts it short ("length"). Prompt tokens are the words of the rendered prompt.
/// So concurrent requests with different words produce different, predictable outputs (<see cref="ExpectedText"/>).
/// </summary>
/// <remarks>
/// Knobs: <see cref="TokenDelay"/>, <see cref="Pause"/>/<see cref="Resume"/> (hold every request before its
/// next token), <see cref="Capacity"/> (more concurrent requests than this get QueueFull),
/// <see cref="FailAfterTokens"/> (an engine error mid-stream), <see cref="PrepareException"/> (a server bug).
/// Observations: <see cref="ActiveCount"/>, <see cref="AbortCount"/>, and <see cref="Ended"/> (one entry per request).
/// </remarks>
public sealed class ScriptedBackend : IGenerationBackend
{
    private readonly Channel<ScriptedRequestEnd> _ended = Channel.CreateUnbounded<ScriptedRequestEnd>();
    private readonly Lock _gateLock = new();
    private TaskCompletionSource _gate = Open();
    private int _activeCount;
    private int _abortCount;

    public ScriptedBackend(string modelId = "scripted", int contextLength = 256)
    {
        ModelId = modelId;
        ContextLength = contextLength;
    }

    public string ModelId { get; }

    public int ContextLength { get; }

    public string Description => "scripted test backend";

    public bool IsReady { get; set; } = true;

    /// <summary>Wait before each token.</summary>
    public TimeSpan TokenDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Requests generating at once; one more gets <see cref="SubmitResult.QueueFull"/>.</summary>
    public int Capacity { get; set; } = int.MaxValue;

    public int RetryAfterSeconds { get; set; } = 2;

    /// <summary>When set, each request ends with <see cref="FinishReason.Error"/> after this many tokens.</summary>
    public int? FailAfterTokens { get; set; }

    /// <summary>When set, Prepare throws it (to simulate a bug).</summary>
    public Exception? PrepareException { get; set; }

    public ChatTemplate Template { get; set; } = ChatTemplate.Fallback;

    /// <summary>Requests submitted and not yet ended (their "slots").</summary>
    public int ActiveCount => Volatile.Read(ref _activeCount);

    /// <summary>Requests that ended because their cancellation token fired.</summary>
    public int AbortCount => Volatile.Read(ref _abortCount);

    /// <summary>One entry per submitted request, written after its slot is freed.</summary>
    public ChannelReader<ScriptedRequestEnd> Ended => _ended.Reader;

    /// <summary>The text a request with this script source produces (whitespace-separated words).</summary>
    public static string ExpectedText(string source, int? maxTokens = null, bool ignoreEos = false)
    {
        var words = Words(source);
        var count = ignoreEos ? maxTokens ?? throw new ArgumentException("ignore_eos needs max_tokens") : Math.Min(words.Length, maxTokens ?? int.MaxValue);
        return string.Concat(Enumerable.Range(0, words.Length == 0 ? 0 : count).Select(k => " " + words[k % words.Length]));
    }

    /// <summary>Holds every request before its next token until <see cref="Resume"/>.</summary>
    public void Pause()
    {
        lock (_gateLock)
        {
            if (_gate.Task.IsCompleted)
            {
                _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Resume()
    {
        lock (_gateLock)
        {
            _gate.TrySetResult();
        }
    }

    public PreparedPrompt Prepare(ApiRequest request)
    {
        if (PrepareException is { } e)
        {
            throw e;
        }

        var promptTokenCount = Words(PromptText.Render(request, Template)).Length;
        var maxNewTokens = PromptLimits.ResolveMaxTokens(promptTokenCount, request, ContextLength);
        var source = request.IsChat ? request.Messages![^1].Content : request.Prompt!;
        return new PreparedPrompt(promptTokenCount, maxNewTokens, Words(source));
    }

    public SubmitResult TrySubmit(PreparedPrompt prompt, ApiRequest request, CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _activeCount) > Capacity)
        {
            Interlocked.Decrement(ref _activeCount);
            return SubmitResult.QueueFull(RetryAfterSeconds);
        }

        var updates = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        _ = Task.Run(() => ProduceAsync(prompt, request, updates.Writer, cancellationToken), CancellationToken.None);
        return SubmitResult.Accepted(updates.Reader.ReadAllAsync());
    }

    private async Task ProduceAsync(PreparedPrompt prompt, ApiRequest request, ChannelWriter<GenerationUpdate> updates, CancellationToken cancellationToken)
    {
        var words = (string[])prompt.State!;
        var generated = 0;
        var reason = FinishReason.Stop;
        try
        {
            while (true)
            {
                if (generated == FailAfterTokens)
                {
                    reason = FinishReason.Error;
                    updates.TryWrite(new Finished(reason, prompt.PromptTokenCount, generated, "scripted failure"));
                    break;
                }

                // Like a model: the end-of-sequence token would come after the last word, so a budget that
                // runs out exactly there still reads "length".
                var done = generated == prompt.MaxNewTokens ? FinishReason.Length
                    : words.Length == 0 || (generated == words.Length && !request.IgnoreEos) ? FinishReason.Stop
                    : (FinishReason?)null;
                if (done is { } finish)
                {
                    reason = finish;
                    updates.TryWrite(new Finished(reason, prompt.PromptTokenCount, generated));
                    break;
                }

                Task gate;
                lock (_gateLock)
                {
                    gate = _gate.Task;
                }

                await gate.WaitAsync(cancellationToken);
                if (TokenDelay > TimeSpan.Zero)
                {
                    await Task.Delay(TokenDelay, cancellationToken);
                }

                cancellationToken.ThrowIfCancellationRequested();
                updates.TryWrite(new TextDelta(" " + words[generated % words.Length], [Token(words, generated, request.TopLogprobs)]));
                generated++;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            reason = FinishReason.Abort;
            Interlocked.Increment(ref _abortCount);
            updates.TryWrite(new Finished(reason, prompt.PromptTokenCount, generated));
        }
        finally
        {
            updates.TryComplete();
            Interlocked.Decrement(ref _activeCount);
            _ended.Writer.TryWrite(new ScriptedRequestEnd(string.Join(' ', words), reason, generated));
        }
    }

    // Deterministic fake log probabilities: the chosen token and made-up alternatives " alt1", " alt2", ...
    private static GeneratedToken Token(string[] words, int index, int? topLogprobs)
    {
        var text = " " + words[index % words.Length];
        var id = StableId(text);
        if (topLogprobs is not { } n)
        {
            return new GeneratedToken(id, text);
        }

        var logprob = 0.0 - (0.25 * (index % 4)); // 0.0 - x: never "-0"
        var top = Enumerable.Range(0, n).Select(j => j == 0 ? new TokenCandidate(id, text, logprob) : new TokenCandidate(50_000 + j, $" alt{j}", logprob - j)).ToList();
        return new GeneratedToken(id, text, logprob, top);
    }

    // string.GetHashCode is randomized per process; tests want the same ids every run.
    private static int StableId(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % 50_000);
    }

    private static string[] Words(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static TaskCompletionSource Open()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        gate.SetResult();
        return gate;
    }
}

/// <summary>How one scripted request ended.</summary>
/// <param name="Source">Its script (the words it echoes).</param>
/// <param name="Reason">Stop, Length, Error, or Abort when its cancellation token fired.</param>
/// <param name="CompletionTokenCount">Tokens it generated.</param>
public sealed record ScriptedRequestEnd(string Source, FinishReason Reason, int CompletionTokenCount);
