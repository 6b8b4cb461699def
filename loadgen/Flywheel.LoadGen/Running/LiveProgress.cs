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

        var table = new Table().Border(TableBorder.Rounded).Title("[bold]flywheel loadgen[/]");
        foreach (var header in new[] { "phase", "elapsed", "sent", "ok", "failed", "in flight", "req/s", "tok/s", "p50 TTFT", "p50 ITL" })
        {
            table.AddColumn(new TableColumn(header).RightAligned());
        }
        table.AddRow(
            Markup.Escape(now.Phase),
            $"{now.ElapsedSeconds:0.0} s",
            Count(now.Sent),
            Count(now.Completed),
            now.Failed > 0 ? $"[red]{Count(now.Failed)}[/]" : "0",
            Count(now.InFlight),
            requestRate.ToString("0.00", CultureInfo.InvariantCulture),
            tokenRate.ToString("0.0", CultureInfo.InvariantCulture),
            Milliseconds(now.RecentTtftP50Seconds),
            Milliseconds(now.RecentItlP50Seconds));
        return table;
    }

    private static string Count(long n) => n.ToString(CultureInfo.InvariantCulture);

    private static string Milliseconds(double seconds) =>
        double.IsNaN(seconds) ? "-" : (seconds * 1000).ToString("0.0", CultureInfo.InvariantCulture) + " ms";
}
