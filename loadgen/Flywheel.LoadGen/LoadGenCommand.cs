using Flywheel.LoadGen.Cli;
using Flywheel.LoadGen.Reports;
using Spectre.Console;

namespace Flywheel.LoadGen;

/// <summary>
/// The <c>flywheel loadgen</c> command. Bad arguments print a message and the usage to stderr and
/// return 2 (never an exception); otherwise the run's exit code (see <see cref="LoadGenResult"/>).
/// </summary>
public static class LoadGenCommand
{
    /// <summary>Runs the command with the console as its environment.</summary>
    public static Task<int> RunAsync(string[] args, CancellationToken ct) => RunAsync(args, new LoadGenEnvironment(), ct);

    /// <summary>Runs the command in the given environment.</summary>
    public static async Task<int> RunAsync(string[] args, LoadGenEnvironment env, CancellationToken ct)
    {
        CommandLine command;
        ITokenCounter? counter;
        try
        {
            command = CommandLine.Parse(args);
            if (command.Help)
            {
                await env.Out.WriteLineAsync(Usage.Text);
                return 0;
            }
            counter = LoadTokenizer(command.TokenizerPath, env);
        }
        catch (UsageException e)
        {
            await env.Error.WriteLineAsync($"error: {e.Message}\n\n{Usage.Text}");
            return 2;
        }

        var options = command.Options;
        var interactive = env.Interactive ?? (!Console.IsOutputRedirected && ReferenceEquals(env.Out, Console.Out));
        var live = options.ShowProgress && interactive
            ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(env.Out) })
            : null;

        await env.Error.WriteLineAsync($"loadgen: {options.Scenario.Describe()} against {options.Server}");
        LoadGenResult result;
        try
        {
            result = await new LoadGenerator(options, counter, env.HttpHandler).RunAsync(env.Error, live, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await env.Error.WriteLineAsync("error: stopped before any load was sent");
            return 130;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await env.Error.WriteLineAsync($"error: cannot write the report: {e.Message}");
            return 1;
        }

        if (result.Report is { } report)
        {
            foreach (var phase in report.Phases)
            {
                await env.Out.WriteLineAsync(report.Phases.Count == 1 ? "" : $"\n== {phase.Name} ==");
                await env.Out.WriteAsync(MarkdownReport.PhaseTables(phase));
            }
            if (report.Sweep is { } sweep)
            {
                await env.Out.WriteLineAsync(
                    $"sweep: probed max {sweep.ProbedMaxRequestsPerSecond:0.###} req/s; within SLOs up to {Rate(sweep.MaxRateWithinSlo)}; " +
                    $"SLOs stop holding at {Rate(sweep.FirstRateBeyondSlo)}");
            }
            await env.Out.WriteLineAsync($"report: {Path.GetFullPath(result.OutputDirectory!)}");
        }
        if (result.Error is not null)
        {
            await env.Error.WriteLineAsync($"error: {result.Error}");
        }
        return result.ExitCode;
    }

    private static ITokenCounter? LoadTokenizer(string? path, LoadGenEnvironment env)
    {
        if (path is null)
        {
            return null;
        }
        if (env.TokenizerLoader is null)
        {
            env.Error.WriteLine("warning: --tokenizer is not supported yet by this build; prompt lengths are approximated (about one token per word)");
            return null;
        }
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            throw new UsageException($"--tokenizer {path}: no such file or folder");
        }
        try
        {
            return env.TokenizerLoader(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Whatever the loader throws for a file it cannot read, the user sees one line naming the file.
            throw new UsageException($"--tokenizer {path}: cannot load it: {e.Message}");
        }
    }

    private static string Rate(double? rate) => rate is { } r ? $"{r:0.###} req/s" : "-";
}
