using System.Diagnostics;

namespace Flywheel.LoadGen.Running;

/// <summary>Monotonic seconds since the run began; every time in the records is on this clock.</summary>
internal sealed class RunClock
{
    private readonly long _start = Stopwatch.GetTimestamp();

    public double ElapsedSeconds => Stopwatch.GetElapsedTime(_start).TotalSeconds;
}
