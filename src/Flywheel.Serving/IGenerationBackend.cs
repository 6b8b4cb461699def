namespace Flywheel.Serving;

/// <summary>
/// What a server needs from a model: its name and context length, whether it is ready, and a way to turn
/// an <see cref="ApiRequest"/> into a stream of generated text. <see cref="Backend.EngineBackend"/> implements
/// it over the engine; tests use a scripted stand-in. All members may be called from many request threads at once.
/// </summary>
public interface IGenerationBackend
{
    /// <summary>The served model id; requests must name exactly this in <c>model</c>.</summary>
    string ModelId { get; }

    /// <summary>Maximum prompt + completion tokens per request.</summary>
    int ContextLength { get; }

    /// <summary>One line saying what was loaded (printed at startup), e.g. "tiny llama, 4 layers, ORT CPU".</summary>
    string Description { get; }

    /// <summary>True once requests can be served. Until then the server answers 503.</summary>
    bool IsReady { get; }

    /// <summary>
    /// The LoRA adapters served over the model, each requested by its name in <c>model</c>; null when the
    /// backend serves none. The server holds a lease on a request's adapter (<see cref="ApiRequest.Adapter"/>)
    /// until its response ends.
    /// </summary>
    Adapters.AdapterRegistry? Adapters => null;

    /// <summary>
    /// Applies the chat template, tokenizes, resolves max_tokens against the context and compiles any
    /// response_format, on the calling (request) thread. Client mistakes throw <see cref="RequestRejectedException"/>
    /// (e.g. via <see cref="PromptLimits.ResolveMaxTokens"/> or <see cref="PromptText.Render"/>);
    /// anything else thrown is a server bug.
    /// </summary>
    PreparedPrompt Prepare(ApiRequest request);

    /// <summary>
    /// As <see cref="Prepare"/>, without holding a request thread for long work (a schema compile), and
    /// giving up with <see cref="OperationCanceledException"/> once <paramref name="cancellationToken"/>
    /// fires (client gone, request timeout, shutdown). The server calls this one.
    /// </summary>
    ValueTask<PreparedPrompt> PrepareAsync(ApiRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Prepare(request));

    /// <summary>
    /// Hands a prepared request to the engine without blocking. When <paramref name="cancellationToken"/>
    /// is cancelled (client gone, timeout, shutdown) the backend must abort the request and free its slot;
    /// the server stops reading the updates at that moment, so no final update is needed after an abort.
    /// </summary>
    SubmitResult TrySubmit(PreparedPrompt prompt, ApiRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// A request after templating and tokenization, ready to submit.
/// </summary>
/// <param name="PromptTokenCount">Tokens in the prompt (for usage and limits).</param>
/// <param name="MaxNewTokens">Resolved completion budget (request's max_tokens, or what the context leaves).</param>
/// <param name="State">Whatever the backend needs to submit (token ids, compiled grammar); opaque to the server.</param>
public sealed record PreparedPrompt(int PromptTokenCount, int MaxNewTokens, object? State = null);

/// <summary>How <see cref="IGenerationBackend.TrySubmit"/> went.</summary>
public enum SubmitStatus
{
    /// <summary>Queued; <see cref="SubmitResult.Updates"/> streams the output.</summary>
    Accepted,

    /// <summary>The engine's bounded queue is full; the client should retry later.</summary>
    QueueFull,

    /// <summary>Refused with a client-facing error (<see cref="SubmitResult.Error"/>).</summary>
    Rejected,
}

/// <summary>The outcome of a submit: an update stream, a full queue, or an error.</summary>
public sealed class SubmitResult
{
    private SubmitResult(SubmitStatus status, IAsyncEnumerable<GenerationUpdate>? updates, int retryAfterSeconds, RequestRejectedException? error)
    {
        Status = status;
        Updates = updates;
        RetryAfterSeconds = retryAfterSeconds;
        Error = error;
    }

    public SubmitStatus Status { get; }

    /// <summary>
    /// For <see cref="SubmitStatus.Accepted"/>: zero or more <see cref="TextDelta"/> (and, for requests
    /// with tools, <see cref="ToolCallDelta"/>) then exactly one <see cref="Finished"/>, in order. Enumerated once, by one reader, with the request's cancellation
    /// token; the enumerator must honor that token (ChannelReader.ReadAllAsync does).
    /// </summary>
    public IAsyncEnumerable<GenerationUpdate>? Updates { get; }

    /// <summary>For <see cref="SubmitStatus.QueueFull"/>: seconds after which a retry is likely to be admitted.</summary>
    public int RetryAfterSeconds { get; }

    /// <summary>For <see cref="SubmitStatus.Rejected"/>: what to tell the client.</summary>
    public RequestRejectedException? Error { get; }

    public static SubmitResult Accepted(IAsyncEnumerable<GenerationUpdate> updates) =>
        new(SubmitStatus.Accepted, updates ?? throw new ArgumentNullException(nameof(updates)), 0, null);

    public static SubmitResult QueueFull(int retryAfterSeconds = 1) =>
        new(SubmitStatus.QueueFull, null, Math.Max(1, retryAfterSeconds), null);

    public static SubmitResult Rejected(RequestRejectedException error) =>
        new(SubmitStatus.Rejected, null, 0, error ?? throw new ArgumentNullException(nameof(error)));
}
