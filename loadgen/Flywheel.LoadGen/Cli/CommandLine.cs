using System.Globalization;
using Flywheel.LoadGen.Arrival;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Stats;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Cli;

/// <summary>The parsed command line: the run's options plus what only the command handles.</summary>
internal sealed record CommandLine(LoadGenOptions Options, string? TokenizerPath, bool Help)
{
    private static readonly HashSet<string> ValueOptions =
    [
        "--url", "--model", "--models", "--mix", "--scenario", "--max-context", "--endpoint", "--tokenizer", "--seed",
        "--rate", "--arrival", "--burstiness", "--max-concurrency", "--concurrency", "--sweep-fractions",
        "--sweep-probe-concurrency", "--duration", "--requests", "--warmup", "--request-timeout",
        "--slo-ttft", "--slo-itl", "--slo-attainment", "--out",
    ];

    private static readonly HashSet<string> Flags = ["--sweep", "--no-progress", "--no-ignore-eos", "--clip-to-context", "--help"];

    /// <summary>Parses arguments; throws <see cref="UsageException"/> naming the option at fault.</summary>
    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var a = new ArgumentReader(args, ValueOptions, Flags);
        if (a.Has("--help"))
        {
            return new CommandLine(null!, null, Help: true);
        }

        var url = a.String("--url") ?? throw new UsageException("--url is required");
        if (!ServerAddress.TryParse(url, out var server, out var urlError))
        {
            throw new UsageException(urlError);
        }

        var modes = new[] { "--rate", "--concurrency", "--sweep" }.Where(a.Has).ToList();
        if (modes.Count > 1)
        {
            throw new UsageException($"{string.Join(" and ", modes)} cannot be combined: choose one way to offer load");
        }
        var mode = modes.FirstOrDefault() switch
        {
            "--rate" => LoadMode.Rate,
            "--sweep" => LoadMode.Sweep,
            _ => LoadMode.Concurrency,
        };
        var arrival = ParseArrival(a, mode);
        var rate = a.Double("--rate", 1e-6, 1e6, allowInfinity: true) ?? double.PositiveInfinity;
        var duration = a.Seconds("--duration", 0.001);
        var requests = a.Int("--requests", 1, 10_000_000);
        if (mode == LoadMode.Rate && double.IsPositiveInfinity(rate) && requests is null)
        {
            throw new UsageException("--rate inf sends everything at once, so it needs --requests to bound the run");
        }
        if (a.Has("--max-concurrency") && mode == LoadMode.Concurrency)
        {
            throw new UsageException("--max-concurrency caps open-loop load; use it with --rate or --sweep");
        }
        if (mode != LoadMode.Sweep && (a.Has("--sweep-fractions") || a.Has("--sweep-probe-concurrency")))
        {
            throw new UsageException("--sweep-fractions and --sweep-probe-concurrency need --sweep");
        }

        ModelMix? models = null;
        if (a.String("--models") is { } modelList)
        {
            if (a.Has("--model"))
            {
                throw new UsageException("--model and --models cannot be combined: --models lists every model to send");
            }
            if (!ModelMix.TryParse(modelList, out models, out var modelsError))
            {
                throw new UsageException(modelsError!);
            }
        }

        var maxContext = a.Int("--max-context", 16, 10_000_000);
        var scenario = WorkloadArguments.LoadScenario(a, maxContext);
        var options = new LoadGenOptions
        {
            Server = server,
            Model = a.String("--model"),
            Models = models,
            Scenario = scenario,
            WorkloadName = a.String("--mix") ?? a.String("--scenario")!,
            MaxContextTokens = maxContext ?? (a.Has("--mix") ? BuiltInMixes.ReferenceContextTokens : null),
            ClipToContext = a.Has("--clip-to-context"),
            Mode = mode,
            RatePerSecond = rate,
            Arrival = arrival,
            Burstiness = a.Double("--burstiness", 0.01, 100) ?? 1.0,
            Concurrency = a.Int("--concurrency", 1, 100_000) ?? 4,
            MaxConcurrency = a.Int("--max-concurrency", 1, 100_000),
            DurationSeconds = duration ?? (requests is null ? 60 : null),
            RequestCount = requests,
            WarmupSeconds = a.Seconds("--warmup", 0) ?? 0,
            Seed = a.Int("--seed", int.MinValue) ?? 0,
            Slo = new SloOptions(a.Seconds("--slo-ttft", 1e-6), a.Seconds("--slo-itl", 1e-6), a.Double("--slo-attainment", 0.01, 1) ?? 0.9),
            RequestTimeoutSeconds = a.Seconds("--request-timeout", 0.01) ?? 300,
            SweepFractions = ParseFractions(a.String("--sweep-fractions")),
            SweepProbeConcurrency = a.Int("--sweep-probe-concurrency", 1, 100_000) ?? 32,
            OutputDirectory = a.String("--out"),
            ShowProgress = !a.Has("--no-progress"),
        };
        if (a.Has("--slo-attainment") && !options.Slo.IsSet)
        {
            throw new UsageException("--slo-attainment needs --slo-ttft or --slo-itl");
        }
        return new CommandLine(options, a.String("--tokenizer"), Help: false);
    }

    private static ArrivalKind ParseArrival(ArgumentReader a, LoadMode mode)
    {
        if ((a.Has("--arrival") || a.Has("--burstiness")) && mode == LoadMode.Concurrency)
        {
            throw new UsageException("--arrival and --burstiness shape open-loop load; use them with --rate or --sweep");
        }
        var kind = a.String("--arrival") switch
        {
            null => a.Has("--burstiness") ? ArrivalKind.Gamma : ArrivalKind.Poisson,
            "poisson" => ArrivalKind.Poisson,
            "constant" => ArrivalKind.Constant,
            "gamma" => ArrivalKind.Gamma,
            var other => throw new UsageException($"--arrival must be poisson, constant or gamma, not '{other}'"),
        };
        if (a.Has("--burstiness") && kind != ArrivalKind.Gamma)
        {
            throw new UsageException("--burstiness applies to --arrival gamma only");
        }
        return kind;
    }

    private static IReadOnlyList<double> ParseFractions(string? text)
    {
        if (text is null)
        {
            return LoadGenOptions.DefaultSweepFractions;
        }
        var fractions = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var f) || !(f > 0) || f > 10)
            {
                throw new UsageException($"--sweep-fractions must be numbers in (0, 10], not '{part}'");
            }
            fractions.Add(f);
        }
        if (fractions.Count == 0)
        {
            throw new UsageException("--sweep-fractions needs at least one fraction");
        }
        fractions.Sort();
        return fractions;
    }
}
