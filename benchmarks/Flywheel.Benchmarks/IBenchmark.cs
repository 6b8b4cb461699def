namespace Flywheel.Benchmarks;

/// <summary>
/// One benchmark: prints its numbers to stdout. Found by reflection, run by name:
/// <c>dotnet run -c Release --project benchmarks/Flywheel.Benchmarks -- NAME [args]</c>.
/// </summary>
internal interface IBenchmark
{
    /// <summary>Name used on the command line, e.g. "tokenizer".</summary>
    string Name { get; }

    /// <summary>One line saying what it measures.</summary>
    string Description { get; }

    /// <summary>Runs the benchmark; returns the process exit code.</summary>
    int Run(string[] args);
}
