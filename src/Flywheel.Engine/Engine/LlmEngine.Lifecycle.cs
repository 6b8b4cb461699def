using System.Diagnostics;
using Flywheel.Sampling;

namespace Flywheel.Execution;

/// <summary>Between steps: waiting for work, cancellations, shutdown.</summary>
public sealed partial class LlmEngine
{
    /// <summary>Stops taking requests, lets running ones finish for up to <paramref name="drainTimeout"/>, then aborts the rest.</summary>
    public void Shutdown(TimeSpan drainTimeout)
    {
        _incoming.Writer.TryComplete();
        if (_thread is not null && !_thread.Join(drainTimeout))
        {
            _stop.Cancel();
            _thread.Join();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _incoming.Writer.TryComplete();
        if (_thread is null)
        {
            AbortAll(); // the caller's steps are over: whatever is left ends here
        }
        else
        {
            _thread.Join();
        }
        _runner.Dispose();
        _adapterSlots?.Dispose();
        _cache.Dispose();
        _stop.Dispose();
    }

    /// <summary>
    /// Blocks the idle engine thread until a request or an adapter unload arrives; false when the engine should
    /// exit (all requests aborted).
    /// </summary>
    private bool WaitForWork()
    {
        // Publish the wake-up first (a full fence), then look: an unload queued before this look is seen here,
        // one queued after it finds this wake-up to complete.
        var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Exchange(ref _wake, wake);
        if (!_adapterUnloads.IsEmpty)
        {
            return true;
        }

        try
        {
            var read = _incoming.Reader.WaitToReadAsync(_stop.Token).AsTask();
            Task.WaitAny(read, wake.Task);
            return !read.IsCompleted || read.GetAwaiter().GetResult(); // false: completed and drained
        }
        catch (OperationCanceledException)
        {
            AbortAll();
            return false;
        }
    }

    /// <summary>Ends cancelled requests: running ones free their slots now (between steps), waiting ones just leave.</summary>
    private void DropCancelled()
    {
        var running = _scheduler.Running;
        for (var i = running.Count - 1; i >= 0; i--)
        {
            var request = running[i].Request;
            if (request.StopCancellationToken.IsCancellationRequested)
            {
                Finish(running[i], FinishReason.Stop);
            }
            else if (request.CancellationToken.IsCancellationRequested)
            {
                Finish(running[i], FinishReason.Abort);
            }
        }

        AbortWaitingAndPublish(static w => w.Request.CancellationToken.IsCancellationRequested, error: null);
    }

    /// <summary>
    /// Between steps, after running requests were finished: removes the waiting requests <paramref name="abort"/>
    /// picks (each ends with Abort and <paramref name="error"/>), compacts the slots, emits and publishes the counts.
    /// </summary>
    private void AbortWaitingAndPublish(Func<Sequence, bool> abort, string? error)
    {
        var waiting = _scheduler.Waiting;
        for (var i = 0; i < waiting.Count;)
        {
            var w = waiting[i];
            if (abort(w))
            {
                _scheduler.RemoveWaitingAt(i);
                Emit(w.Output, new FinishEvent(FinishReason.Abort, w.PromptLength, 0, 0, 0, Stopwatch.GetElapsedTime(w.ArrivalTimestamp).TotalSeconds, error));
            }
            else
            {
                i++;
            }
        }

        _slots.Compact(_finished, _scheduler.Running);
        EmitFinished();
        _waitingCount = waiting.Count;
        PublishStats();
    }

    /// <summary>The loop is over: later unloads run on their caller's thread, and those queued meanwhile complete now.</summary>
    private void ExitLoop()
    {
        _loopExited = true;
        ProcessAdapterUnloads();
    }

    private void AbortAll()
    {
        var running = _scheduler.Running;
        while (running.Count > 0)
        {
            Finish(running[0], FinishReason.Abort, "the engine shut down");
        }

        _slots.Compact(_finished, running);
        EmitFinished();
        foreach (var w in _scheduler.Waiting)
        {
            EmitShutDown(w);
        }

        _scheduler.ClearWaiting();
        while (_incoming.Reader.TryRead(out var w))
        {
            EmitShutDown(w);
        }

        _runningCount = 0;
        _waitingCount = 0;
    }

    private void EmitShutDown(Sequence w) => Emit(w.Output, new FinishEvent(FinishReason.Abort, w.PromptLength, 0, 0, 0, 0, "the engine shut down"));
}
