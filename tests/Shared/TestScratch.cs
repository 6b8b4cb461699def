using System.Diagnostics;
using System.Globalization;

namespace Flywheel.Testing;

/// <summary>
/// Scratch paths for tests: <c>{temp}/flywheel-tests/{process id}/{name}</c>. A test process's folder is deleted
/// when it exits (best effort: a test host stopped before its exit handlers finish leaves it), and folders of
/// processes that no longer run (a crash, a killed run, that) are deleted by the next test process that asks
/// for a path, so repeated runs leave at most the last run's folders instead of filling the disk.
/// </summary>
internal static class TestScratch
{
    private static readonly string Parent = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "flywheel-tests");
    private static readonly Lazy<string> Root = new(Create);

    /// <summary>The scratch path <paramref name="name"/> of this process (nothing is created).</summary>
    public static string Path(string name) => System.IO.Path.Combine(Root.Value, name);

    private static string Create()
    {
        SweepStale();
        var root = System.IO.Path.Combine(Parent, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    }

    /// <summary>Deletes the folders of processes that have ended (anything else under the parent is left alone).</summary>
    private static void SweepStale()
    {
        if (!Directory.Exists(Parent))
        {
            return;
        }

        foreach (var dir in Directory.EnumerateDirectories(Parent))
        {
            if (int.TryParse(System.IO.Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !IsRunning(pid))
            {
                TryDelete(dir);
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    // Best effort: a file still open elsewhere, or a folder another sweep removed first, is not a test failure.
    private static void TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
