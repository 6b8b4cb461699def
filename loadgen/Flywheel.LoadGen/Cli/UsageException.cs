namespace Flywheel.LoadGen.Cli;

/// <summary>A command-line mistake: printed as "error: message" with the usage, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);
