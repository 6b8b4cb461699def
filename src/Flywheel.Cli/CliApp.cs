namespace Flywheel.Cli;

/// <summary>The <c>flywheel</c> command: dispatches to one subcommand.</summary>
internal static class CliApp
{
    /// <summary>A subcommand: its usage text and its body (which parses its own options).</summary>
    internal sealed record Command(string Name, string Summary, string Usage, Func<CommandArgsInput, int> Run);

    /// <summary>What a subcommand gets: its arguments and where to write.</summary>
    internal sealed record CommandArgsInput(string[] Args, TextWriter Out, TextWriter Error);

    private static readonly Command[] Commands =
    [
        ServeCommand.Definition,
        GenerateCommand.Definition,
        MakeModelCommand.Definition,
        MakeAdapterCommand.Definition,
        ImportCommand.Definition,
        TokenizeCommand.Definition,
        GrammarTestCommand.Definition,
        LoadGenCliCommand.Definition,
        BenchCommand.Definition,
    ];

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintOverview(stderr);
            return args.Length == 0 ? 2 : 0;
        }

        var command = Commands.FirstOrDefault(c => c.Name == args[0]);
        if (command is null)
        {
            stderr.WriteLine($"flywheel: unknown command '{args[0]}'");
            PrintOverview(stderr);
            return 2;
        }

        var rest = args[1..];
        if ((rest.Contains("--help") || rest.Contains("-h")) && command.Name != "loadgen")
        {
            stdout.WriteLine(command.Usage);
            return 0;
        }

        try
        {
            return command.Run(new CommandArgsInput(rest, stdout, stderr));
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"flywheel {command.Name}: {e.Message}");
            stderr.WriteLine(command.Usage);
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or CliException)
        {
            stderr.WriteLine($"flywheel {command.Name}: error: {e.Message}");
            return 1;
        }
    }

    private static void PrintOverview(TextWriter w)
    {
        w.WriteLine("usage: flywheel <command> [options]   (flywheel <command> --help for its options)");
        w.WriteLine();
        foreach (var c in Commands)
        {
            w.WriteLine($"  {c.Name,-12} {c.Summary}");
        }
    }
}

/// <summary>An expected failure of a command (bad model folder, unreadable file): message only, exit code 1.</summary>
internal sealed class CliException(string message, Exception? inner = null) : Exception(message, inner);
