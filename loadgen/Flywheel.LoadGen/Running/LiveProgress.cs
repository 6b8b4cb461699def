using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Flywheel.LoadGen.Running;

/// <summary>
/// Redraws one table of the run's state twice a second: phase, requests, current request rate and
/// content-chunk rate (≈ tokens/s: servers send about one token per chunk) over the last few
/// seconds, and p50 TTFT and ITL of the most recent requests.
/// </summary>
internal static class LiveProgress
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(500);
    private const double WindowSeconds = 5;

    /// <summary>Draws until <paramref name="until"/> completes; never throws for display problems' sake.</summary>
    public static async Task RunAsync(IAnsiConsole console, ProgressTracker tracker, Task until)
    {
        var history = new Queue<ProgressSnapshot>();
        await console.Live(Render(tracker.Snapshot(), history))
            .AutoClear(false)
            .StartAsync(async context =>
            {
                while (!until.IsCompleted)
                {
                    await Task.WhenAny(until, Task.Delay(Interval));
                    context.UpdateTarget(Render(tracker.Snapshot(), history));
                    context.Refresh();
                }
            });
    }

    private static IRenderable Render(ProgressSnapshot now, Queue<ProgressSnapshot> history)
    {
        history.Enqueue(now);
        while (history.Count > 1 && now.ElapsedSeconds - history.Peek().ElapsedSeconds > WindowSeconds)
        {
            history.Dequeue();
        }
        var first = history.Peek();
        var span = now.ElapsedSeconds - first.ElapsedSeconds;
        var requestRate = span > 0 ? (now.Completed + now.Failed - first.Completed - first.Failed) / span : 0;
        var tokenRate = span > 0 ? (now.ContentChunks - first.ContentChunks) / span : 0;

        // Two short lines in a panel: fits an 80-column terminal, where a ten-column table wraps.
        var counts = $"[bold]{Markup.Escape(now.Phase)}[/]  {now.ElapsedSeconds:0.0} s   sent {Count(now.Sent)}   ok {Count(now.Completed)}   " +
                     $"{(now.Failed > 0 ? $"[red]failed {Count(now.Failed)}[/]" : "failed 0")}   in flight {Count(now.InFlight)}";
        var rates = $"{requestRate.ToString("0.00", CultureInfo.InvariantCulture)} req/s   {tokenRate.ToString("0.0", CultureInfo.InvariantCulture)} tok/s   " +
                    $"p50 TTFT {Milliseconds(now.RecentTtftP50Seconds)}   p50 ITL {Milliseconds(now.RecentItlP50Seconds)}";
        return new Panel(new Rows(new Markup(counts), new Markup(rates))).Header("flywheel loadgen").Border(BoxBorder.Rounded);
    }

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Milliseconds(double seconds) =>
        double.IsNaN(seconds) ? "-" : (seconds * 1000).ToString("0.0", CultureInfo.InvariantCulture) + " ms";
}
