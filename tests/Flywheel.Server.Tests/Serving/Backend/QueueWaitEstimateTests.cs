using Flywheel.Serving.Backend;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>Retry-After follows the queue and the engine's measured pace, within its bounds.</summary>
public sealed class QueueWaitEstimateTests
{
    [Fact]
    public void TheWaitIsTheQueueAheadAtTheMeasuredPace()
    {
        var estimate = new QueueWaitEstimate();
        estimate.Observe(100, stepCount: 0, finishedCount: 0);
        // 10 s later: 1,000 steps (100 steps/s) finished 20 requests (50 steps each): 2 requests/s.
        Assert.Equal(5, estimate.RetryAfterSeconds(110, 1_000, 20, waitingCount: 9)); // (9 + 1) / 2
        Assert.Equal(50, estimate.RetryAfterSeconds(110, 1_000, 20, waitingCount: 99));
        Assert.Equal(1, estimate.RetryAfterSeconds(110, 1_000, 20, waitingCount: 0)); // 0.5 s, rounded up
    }

    [Fact]
    public void ASlowerEngineMeansALongerWait()
    {
        var fast = new QueueWaitEstimate();
        fast.Observe(0, 0, 0);
        var slow = new QueueWaitEstimate();
        slow.Observe(0, 0, 0);

        var fastWait = fast.RetryAfterSeconds(10, 1_000, 100, waitingCount: 50);
        var slowWait = slow.RetryAfterSeconds(10, 1_000, 10, waitingCount: 50); // ten times the steps per finish

        Assert.Equal(6, fastWait); // 51 / 10 per s = 5.1
        Assert.Equal(51, slowWait); // 51 / 1 per s
    }

    [Fact]
    public void NoFinishInTheWindowMeansAtLeastTheWindowPerRequest()
    {
        var estimate = new QueueWaitEstimate();
        estimate.Observe(0, 0, 0);

        Assert.Equal(12, estimate.RetryAfterSeconds(4, 400, 0, waitingCount: 2)); // 3 ahead x 4 s with nothing finished
    }

    [Fact]
    public void WithoutMeasurementsOrBeyondTheBoundsTheAnswerIsClamped()
    {
        var fresh = new QueueWaitEstimate();
        Assert.Equal(QueueWaitEstimate.MinSeconds, fresh.RetryAfterSeconds(0, 0, 0, waitingCount: 1_000));

        var stalled = new QueueWaitEstimate();
        stalled.Observe(0, 0, 0);
        Assert.Equal(QueueWaitEstimate.MaxSeconds, stalled.RetryAfterSeconds(20, 10, 0, waitingCount: 1_000));
    }

    [Fact]
    public void OnlyTheLastWindowCounts()
    {
        var estimate = new QueueWaitEstimate();
        estimate.Observe(0, 0, 0); // then an idle hour
        estimate.Observe(3_600, 0, 0);
        estimate.Observe(3_600 + QueueWaitEstimate.WindowSeconds, 3_000, 300); // 10 finishes/s within the window

        Assert.Equal(10, estimate.RetryAfterSeconds(3_600 + QueueWaitEstimate.WindowSeconds + 1, 3_100, 310, waitingCount: 99));
    }
}
