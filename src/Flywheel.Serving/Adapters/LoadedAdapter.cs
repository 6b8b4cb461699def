namespace Flywheel.Serving.Adapters;

/// <summary>
/// An adapter resident in an engine slot, served under <see cref="Name"/>. Counts what is using it: requests
/// admitted under its name (<see cref="InFlightCount"/>, held by an <see cref="AdapterLease"/> from admission
/// to the response's end) and, of their generations in the engine, those waiting for their first token and
/// those generating. Thread-safe.
/// </summary>
public sealed class LoadedAdapter
{
    private readonly CancellationTokenSource _unloading = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight, _running, _waiting, _isUnloading;

    internal LoadedAdapter(string name, string path, int slot)
    {
        Name = name;
        Path = path;
        Slot = slot;
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    /// <summary>The name requests give as <c>model</c>.</summary>
    public string Name { get; }

    /// <summary>The folder it was read from (as given).</summary>
    public string Path { get; }

    /// <summary>The engine slot (1 or more; 0 is the base model).</summary>
    public int Slot { get; }

    /// <summary>When it was loaded, in Unix seconds.</summary>
    public long Created { get; }

    /// <summary>Requests admitted under this name whose response has not ended.</summary>
    public int InFlightCount => Volatile.Read(ref _inFlight);

    /// <summary>Generations in the engine that have produced a token (an approximation of vLLM's running: see the decision note).</summary>
    public int RunningCount => Volatile.Read(ref _running);

    /// <summary>Generations in the engine still before their first token (queued or in prefill).</summary>
    public int WaitingCount => Volatile.Read(ref _waiting);

    /// <summary>True once an unload has begun: no request is admitted under the name any more.</summary>
    public bool IsUnloading => Volatile.Read(ref _isUnloading) != 0;

    /// <summary>Cancelled when the unload stops waiting: generations still on the adapter are aborted.</summary>
    internal CancellationToken UnloadToken => _unloading.Token;

    /// <summary>Completes when an unload has begun and no request is in flight.</summary>
    internal Task Idle => _idle.Task;

    /// <summary>Called under the registry's lock, which also removes the name, so no lease starts after it.</summary>
    internal void BeginUnload()
    {
        // Exchange is a full fence: a lease released at the same moment either sees the flag or is counted here.
        Interlocked.Exchange(ref _isUnloading, 1);
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>Aborts the generations still on the adapter (their readers see an abort, and the client a clear error).</summary>
    internal void AbortRemaining() => _unloading.Cancel();

    internal void Enter() => Interlocked.Increment(ref _inFlight);

    internal void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && IsUnloading)
        {
            _idle.TrySetResult();
        }
    }

    /// <summary>A generation was queued in the engine.</summary>
    internal void GenerationQueued() => Interlocked.Increment(ref _waiting);

    /// <summary>A queued generation produced its first token.</summary>
    internal void GenerationStarted()
    {
        Interlocked.Decrement(ref _waiting);
        Interlocked.Increment(ref _running);
    }

    /// <summary>A generation left the engine (finished, aborted, or its reader left).</summary>
    internal void GenerationEnded(bool started) => Interlocked.Decrement(ref started ? ref _running : ref _waiting);
}

/// <summary>
/// A request's hold on an adapter from admission until its response ends: an unload waits (for a bounded time)
/// until every lease is disposed. Dispose once; further calls do nothing.
/// </summary>
public sealed class AdapterLease : IDisposable
{
    private int _disposed;

    internal AdapterLease(LoadedAdapter adapter)
    {
        Adapter = adapter;
        adapter.Enter();
    }

    /// <summary>The adapter held.</summary>
    public LoadedAdapter Adapter { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Adapter.Exit();
        }
    }
}
