using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Stats;

namespace Flywheel.LoadGen.Running;

/// <summary>A moment's view of the run for the live display.</summary>
internal readonly record struct ProgressSnapshot(
    string Phase, double ElapsedSeconds, int Sent, int Completed, int Failed, int InFlight,
    long ContentChunks, double RecentTtftP50Seconds, double RecentItlP50Seconds);

/// <summary>
/// Counts what the request tasks do, for the live display and for the stop-when-the-server-is-gone
/// rule. Written from many request tasks at once: counters are interlocked, the recent-latency
/// windows sit behind one lock taken once per finished request.
/// </summary>
internal sealed class ProgressTracker(RunClock clock)
{
    private const int RecentRequestCount = 256;
    private const int RecentGapCount = 4096;

    private readonly object _gate = new();
    private readonly Queue<double> _recentTtft = new();
    private readonly Queue<double> _recentItl = new();
    private int _sent, _completed, _failed, _inFlight, _consecutiveConnectionErrors;
    private long _contentChunks;
    private volatile string _phase = "";

    public string Phase { get => _phase; set => _phase = value; }

    /// <summary>Connection failures in a row, reset by any request that reached the server.</summary>
    public int ConsecutiveConnectionErrors => Volatile.Read(ref _consecutiveConnectionErrors);

    public void OnSent()
    {
        Interlocked.Increment(ref _sent);
        Interlocked.Increment(ref _inFlight);
    }

    public void OnContentChunk() => Interlocked.Increment(ref _contentChunks);

    public void OnFinished(RequestRecord record)
    {
        Interlocked.Decrement(ref _inFlight);
        if (record.Success)
        {
            Interlocked.Increment(ref _completed);
        }
        else
        {
            Interlocked.Increment(ref _failed);
        }
        if (record.ErrorKind == "connection_error")
        {
            Interlocked.Increment(ref _consecutiveConnectionErrors);
        }
        else
        {
            Volatile.Write(ref _consecutiveConnectionErrors, 0);
        }
        if (!record.Success)
        {
            return;
        }
        lock (_gate)
        {
            if (record.TtftSeconds is { } ttft)
            {
                Push(_recentTtft, ttft, RecentRequestCount);
            }
            foreach (var gap in record.ItlSeconds)
            {
                Push(_recentItl, gap, RecentGapCount);
            }
        }
    }

    public ProgressSnapshot Snapshot()
    {
        double ttft, itl;
        lock (_gate)
        {
            ttft = Percentiles.Of(_recentTtft, 50);
            itl = Percentiles.Of(_recentItl, 50);
        }
        return new ProgressSnapshot(
            Phase, clock.ElapsedSeconds, Volatile.Read(ref _sent), Volatile.Read(ref _completed), Volatile.Read(ref _failed),
            Volatile.Read(ref _inFlight), Interlocked.Read(ref _contentChunks), ttft, itl);
    }

    private static void Push(Queue<double> queue, double value, int capacity)
    {
        if (queue.Count == capacity)
        {
            queue.Dequeue();
        }
        queue.Enqueue(value);
    }
}
