using Flywheel.Cli;

namespace Flywheel.Cli.Tests;

/// <summary>Runs the `flywheel` command in process, as the executable would, capturing what it prints.</summary>
internal static class CliRunner
{
    /// <summary>The exit code and the text written to stdout and stderr.</summary>
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
