using Flywheel.Scheduling;

namespace Flywheel.Cli;

/// <summary>The engine's options as serve and bench take them on the command line.</summary>
internal static class EngineOptionsArguments
{
    /// <summary>Engine options from --policy, --max-batch-tokens, --chunk-size, --max-running, --queue, --mixed-runs.</summary>
    internal static EngineOptions EngineOptionsFrom(CommandArgs args)
    {
        var defaults = new EngineOptions();
        try
        {
            var budget = args.Int("max-batch-tokens", 2, 1 << 16);
            var options = new EngineOptions
            {
                Policy = args.String("policy") is { } p ? EngineOptions.ParsePolicy(p) : defaults.Policy,
                MaxBatchTokens = budget ?? defaults.MaxBatchTokens,
                // The chunk follows the budget unless set (see EngineOptions.ChunkSize).
                ChunkSize = args.Int("chunk-size", 1, 1 << 16) ?? budget ?? defaults.ChunkSize,
                MaxRunningRequests = args.Int("max-running", 1, 4096) ?? defaults.MaxRunningRequests,
                QueueCapacity = args.Int("queue", 1, 1 << 20) ?? defaults.QueueCapacity,
                MixedRuns = args.String("mixed-runs") is { } m ? m switch
                {
                    "on" => true,
                    "off" => false,
                    _ => throw new ArgumentException($"--mixed-runs must be on or off, not '{m}'"),
                }
                : defaults.MixedRuns,
            };
            options.Validate();
            return options;
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
