using System.Runtime.InteropServices;

namespace Flywheel.Benchmarks;

/// <summary>
/// The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID), reported beside wall time where
/// the machine is shared: time the thread waited for a core does not count, so before/after
/// comparisons of the same work stay close under load. NaN off Linux.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3;

    /// <summary>Microseconds of CPU time used by the calling thread so far, or NaN.</summary>
    public static double NowMicroseconds() =>
        OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTimeId, out var ts) == 0
            ? (ts.Seconds * 1e6) + (ts.Nanoseconds / 1e3)
            : double.NaN;

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
