using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Cli;

/// <summary>Resolves --mix / --scenario / --endpoint / --no-ignore-eos into a scenario.</summary>
internal static class WorkloadArguments
{
    public static Scenario LoadScenario(ArgumentReader a, int? maxContext)
    {
        var mix = a.String("--mix");
        var file = a.String("--scenario");
        if (mix is not null && file is not null)
        {
            throw new UsageException("--mix and --scenario cannot be combined: choose one workload");
        }

        Scenario scenario;
        if (mix is not null)
        {
            if (!BuiltInMixes.TryGet(mix, maxContext ?? BuiltInMixes.ReferenceContextTokens, out scenario))
            {
                throw new UsageException($"--mix must be one of {string.Join(", ", BuiltInMixes.Names)}, not '{mix}'");
            }
        }
        else if (file is not null)
        {
            try
            {
                scenario = ScenarioFile.Load(file);
            }
            catch (ScenarioFormatException e)
            {
                throw new UsageException($"--scenario {file}: {e.Message}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"--scenario {file}: cannot read the file: {e.Message}");
            }
        }
        else
        {
            throw new UsageException("a workload is required: --mix NAME or --scenario FILE");
        }

        if (a.Has("--no-ignore-eos"))
        {
            scenario = scenario with { IgnoreEos = false };
        }
        return a.String("--endpoint") switch
        {
            null => scenario,
            "chat" => scenario with { Endpoint = ApiEndpoint.Chat },
            "completions" => scenario with { Endpoint = ApiEndpoint.Completions },
            var other => throw new UsageException($"--endpoint must be chat or completions, not '{other}'"),
        };
    }
}
