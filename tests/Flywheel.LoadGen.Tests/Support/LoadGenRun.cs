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
        var run = new LoadGenRun(Path.Combine(Path.GetTempPath(), "flywheel-loadgen-tests", Guid.NewGuid().ToString("N")));
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

    /// <summary>Writes a scenario file into the report folder's parent and returns its path.</summary>
    public static string WriteScenario(string json)
    {
        var dir = Path.Combine(Path.GetTempPath(), "flywheel-loadgen-tests");
        System.IO.Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"scenario-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
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
