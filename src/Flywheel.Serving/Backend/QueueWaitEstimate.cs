namespace Flywheel.Serving.Backend;

/// <summary>
/// The <c>Retry-After</c> for a request refused because the engine's queue is full: how long the requests
/// waiting ahead of it take to be served at the engine's current pace. The pace is measured, not assumed:
/// over the last <see cref="WindowSeconds"/>, how many engine steps ran per second and how many steps it took
/// to finish one request (so seconds = (waiting + 1) x steps per finish / steps per second). Fed from the
/// request threads (every submit samples the engine's read-only counters); the engine loop is not touched.
/// </summary>
/// <remarks>Thread-safe. Times are seconds on any monotonic clock the caller chooses.</remarks>
public sealed class QueueWaitEstimate
{
    /// <summary>How far back the pace is measured.</summary>
    public const double WindowSeconds = 30;

    /// <summary>Bounds of the answer: a client is never told to retry at once, nor to go away for long.</summary>
    public const int MinSeconds = 1;

    public const int MaxSeconds = 300;

    private const double SampleSpacingSeconds = 0.25;
    private readonly Queue<Sample> _samples = new();
    private readonly Lock _lock = new();
    private double _lastSeconds;

    /// <summary>Records the engine's counters (cheap; keeps at most one sample per quarter second).</summary>
    /// <param name="nowSeconds">The caller's monotonic clock.</param>
    /// <param name="stepCount">Engine steps run so far.</param>
    /// <param name="finishedCount">Requests that have left the engine so far (finished, stopped or aborted).</param>
    public void Observe(double nowSeconds, long stepCount, long finishedCount)
    {
        lock (_lock)
        {
            if (_samples.Count == 0 || nowSeconds - _lastSeconds >= SampleSpacingSeconds)
            {
                _samples.Enqueue(new Sample(nowSeconds, stepCount, finishedCount));
                _lastSeconds = nowSeconds;
            }

            // Only the window counts: an idle hour before a burst must not dilute the pace.
            while (_samples.Count > 1 && _samples.Peek().Seconds < nowSeconds - WindowSeconds)
            {
                _samples.Dequeue();
            }
        }
    }

    /// <summary>Seconds until a request queued behind <paramref name="waitingCount"/> others would likely be admitted.</summary>
    public int RetryAfterSeconds(double nowSeconds, long stepCount, long finishedCount, int waitingCount)
    {
        Observe(nowSeconds, stepCount, finishedCount);
        Sample oldest;
        lock (_lock)
        {
            oldest = _samples.Peek();
        }

        var seconds = nowSeconds - oldest.Seconds;
        var steps = stepCount - oldest.StepCount;
        var finished = finishedCount - oldest.FinishedCount;
        var ahead = Math.Max(0, waitingCount) + 1;
        double estimate;
        if (seconds <= 0 || steps <= 0)
        {
            estimate = MinSeconds; // nothing measured yet (or the engine has not stepped): no basis to send clients away longer
        }
        else if (finished <= 0)
        {
            // Steps ran but nothing finished in the window: each finish takes at least the whole window.
            estimate = ahead * seconds;
        }
        else
        {
            var stepsPerSecond = steps / seconds;
            var stepsPerFinish = steps / (double)finished;
            estimate = ahead * stepsPerFinish / stepsPerSecond;
        }

        return (int)Math.Clamp(Math.Ceiling(estimate), MinSeconds, MaxSeconds);
    }

    private readonly record struct Sample(double Seconds, long StepCount, long FinishedCount);
}
