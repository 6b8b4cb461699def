namespace Flywheel.Server.OpenAi;

/// <summary>Why a request was cancelled before the backend finished it.</summary>
internal enum AbortCause
{
    None,
    ClientGone,
    Timeout,
    Shutdown,
}

/// <summary>
/// One request's cancellation: the client disconnecting, the per-request timeout and the shutdown abort,
/// linked into the single token the backend sees. Remembers which one fired so the client is told why.
/// </summary>
internal sealed class RequestScope : IDisposable
{
    private readonly CancellationToken _clientGone;
    private readonly CancellationToken _shutdown;
    private readonly CancellationTokenSource _timeout;
    private readonly CancellationTokenSource _linked;
    private readonly TimeSpan? _timeoutAfter;

    public RequestScope(CancellationToken clientGone, CancellationToken shutdown, TimeSpan? timeout)
    {
        _clientGone = clientGone;
        _shutdown = shutdown;
        _timeoutAfter = timeout;
        _timeout = timeout is { } t ? new CancellationTokenSource(t) : new CancellationTokenSource();
        _linked = CancellationTokenSource.CreateLinkedTokenSource(clientGone, shutdown, _timeout.Token);
    }

    /// <summary>Cancelled when any of the three causes fires.</summary>
    public CancellationToken Token => _linked.Token;

    // Order matters: a disconnect during shutdown is still a disconnect (nobody to tell).
    public AbortCause Cause =>
        _clientGone.IsCancellationRequested ? AbortCause.ClientGone
        : _shutdown.IsCancellationRequested ? AbortCause.Shutdown
        : _timeout.IsCancellationRequested ? AbortCause.Timeout
        : AbortCause.None;

    /// <summary>What to tell the client about <see cref="Cause"/>.</summary>
    public OpenAiError CauseError() => Cause switch
    {
        AbortCause.Timeout => ServerErrors.Timeout(_timeoutAfter ?? TimeSpan.Zero),
        AbortCause.Shutdown => ServerErrors.ShutdownAbort(),
        AbortCause.ClientGone => ServerErrors.ClientGone(),
        _ => ServerErrors.Internal(),
    };

    public void Dispose()
    {
        _linked.Dispose();
        _timeout.Dispose();
    }
}
