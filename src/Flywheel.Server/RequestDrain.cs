using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server;

/// <summary>
/// Counts generation requests in flight and runs the graceful shutdown: when the host starts stopping,
/// new requests are refused (503, readiness 503), in-flight ones get <see cref="ServerOptions.DrainTimeout"/>
/// to finish, then <see cref="AbortToken"/> aborts the rest. Runs in StoppingAsync, i.e. before Kestrel
/// stops, so clients still get answers while the server drains.
/// </summary>
internal sealed class RequestDrain(ServerOptions options, ILogger<RequestDrain> logger) : IHostedLifecycleService, IDisposable
{
    // After the abort, how long handlers get to write their final error event before Kestrel takes over.
    internal static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _abort = new();
    private int _inFlightCount;
    private bool _draining;
    private TaskCompletionSource? _idle;

    public bool IsDraining
    {
        get
        {
            lock (_lock)
            {
                return _draining;
            }
        }
    }

    public int InFlightCount
    {
        get
        {
            lock (_lock)
            {
                return _inFlightCount;
            }
        }
    }

    /// <summary>Cancelled when the drain timeout expires: every request still running is aborted.</summary>
    public CancellationToken AbortToken => _abort.Token;

    /// <summary>Registers a request; false once draining (the caller answers 503). Pair with <see cref="Exit"/>.</summary>
    public bool TryEnter()
    {
        lock (_lock)
        {
            if (_draining)
            {
                return false;
            }

            _inFlightCount++;
            return true;
        }
    }

    public void Exit()
    {
        lock (_lock)
        {
            if (--_inFlightCount == 0)
            {
                _idle?.TrySetResult();
            }
        }
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        Task idle;
        int count;
        lock (_lock)
        {
            _draining = true;
            count = _inFlightCount;
            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (count == 0)
            {
                _idle.TrySetResult();
            }

            idle = _idle.Task;
        }

        logger.LogInformation("Draining: {Count} request(s) in flight, waiting up to {Seconds} s.", count, options.DrainTimeout.TotalSeconds);
        try
        {
            await idle.WaitAsync(options.DrainTimeout, cancellationToken).ConfigureAwait(false);
            return;
        }
        catch (TimeoutException)
        {
        }
        catch (OperationCanceledException)
        {
        }

        logger.LogWarning("Drain timeout: aborting {Count} request(s) still running.", InFlightCount);
        await _abort.CancelAsync().ConfigureAwait(false);
        try
        {
            await idle.WaitAsync(AbortGrace, CancellationToken.None).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("{Count} request(s) did not end after the abort.", InFlightCount);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _abort.Dispose();
}
