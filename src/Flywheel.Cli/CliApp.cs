namespace Flywheel.Cli;

/// <summary>The `flywheel` command: dispatches to one subcommand.</summary>
internal static class CliApp
{
    public static int Run(string[] args)
    {
        Console.Error.WriteLine("usage: flywheel <command> [options]");
        return args.Length == 0 ? 2 : 2;
    }
}
