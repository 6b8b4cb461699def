using System.Text.Json;
using Flywheel.LoadGen.Cli;

namespace Flywheel.LoadGen.Tests.Support;

/// <summary>Runs the loadgen command in-process with captured output and a fresh report folder.</summary>
internal sealed class LoadGenRun : IDisposable
{
    private LoadGenRun(string directory) => Directory = directory;

    public string Directory { get; }
    public int ExitCode { get; private set; }
    public string Out { get; private set; } = "";
    public string Error { get; private set; } = "";

    public static async Task<LoadGenRun> RunAsync(params string[] args)
    {
        var run = new LoadGenRun(TestScratch.Path("loadgen-" + Guid.NewGuid().ToString("N")));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var env = new LoadGenEnvironment { Out = stdout, Error = stderr, Interactive = false };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        run.ExitCode = await LoadGenCommand.RunAsync([.. args, "--out", run.Directory], env, timeout.Token);
        (run.Out, run.Error) = (stdout.ToString(), stderr.ToString());
        return run;
    }

    public JsonElement Summary() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "summary.json"))).RootElement;

    public string[] CsvRows() => File.ReadAllLines(Path.Combine(Directory, "requests.csv"));

    /// <summary>
    /// Writes a scenario file and returns its path. Named by a hash of its content, so repeated
    /// test runs reuse the same few files instead of piling up new ones in the temp folder.
    /// </summary>
    public static string WriteScenario(string json)
    {
        var dir = Path.Combine(Path.GetTempPath(), "flywheel-loadgen-tests");
        System.IO.Directory.CreateDirectory(dir);
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)))[..16];
        var path = Path.Combine(dir, $"scenario-{hash}.json");
        if (!File.Exists(path))
        {
            // Write then rename: tests running in parallel may write the same file at once.
            var temp = path + "." + Guid.NewGuid().ToString("N");
            File.WriteAllText(temp, json);
            File.Move(temp, path, overwrite: true);
        }
        return path;
    }

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}
