using System.Threading.Channels;

namespace Flywheel.Serving.ResponseFormats;

/// <summary>
/// A fixed number of dedicated background threads that run schema compiles. Compiles are CPU-bound
/// and may take seconds; on the shared thread pool a burst of them would block the threads that serve
/// health checks and stream tokens, and running more at once than there are cores only slows each. Jobs
/// wait in an unbounded queue (each belongs to a request that holds a slot of the server's own limits);
/// a job whose token is cancelled before it starts never runs. The threads are background threads, so
/// a compile never keeps the process from exiting. Thread-safe.
/// </summary>
internal sealed class SchemaCompilePool : IDisposable
{
    private readonly Channel<Action> _jobs = Channel.CreateUnbounded<Action>(new UnboundedChannelOptions { SingleWriter = false });

    public SchemaCompilePool(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        for (var i = 0; i < threadCount; i++)
        {
            // Below normal: where the OS honours it, the engine thread wins a contended core.
            var thread = new Thread(Work) { IsBackground = true, Name = $"flywheel-schema-compile-{i}", Priority = ThreadPriority.BelowNormal };
            thread.Start();
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a pool thread with <paramref name="cancellationToken"/>; the task ends
    /// with its result, its exception, or cancelled when the token fires before the work starts.
    /// </summary>
    public Task<T> RunAsync<T>(Func<CancellationToken, T> work, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var queued = _jobs.Writer.TryWrite(() =>
        {
            if (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled(cancellationToken);
                return;
            }

            try
            {
                done.TrySetResult(work(cancellationToken));
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled(cancellationToken);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        });
        if (!queued)
        {
            done.TrySetException(new ObjectDisposedException(nameof(SchemaCompilePool)));
        }

        return done.Task;
    }

    private void Work()
    {
        var reader = _jobs.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var job))
            {
                job();
            }
        }
    }

    /// <summary>Stops taking jobs; the threads end once the queue is empty.</summary>
    public void Dispose() => _jobs.Writer.TryComplete();
}
