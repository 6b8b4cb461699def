using Flywheel.LoadGen.Cli;
using Flywheel.LoadGen.Tests.Support;

namespace Flywheel.LoadGen.Tests.Cli;

public sealed class ArgumentErrorTests
{
    private const string Url = "http://127.0.0.1:9";

    public static TheoryData<string[], string> BadArguments => new()
    {
        { [], "--url is required" },
        { ["--url", Url], "a workload is required" },
        { ["--url", "localhost:8000", "--mix", "balanced"], "--url must be an absolute http" },
        { ["--url", Url, "--mix", "nope"], "--mix must be one of prompt-heavy, balanced" },
        { ["--url", Url, "--mix", "balanced", "--scenario", "x.json"], "cannot be combined" },
        { ["--url", Url, "--scenario", "/no/such/file.json"], "cannot read the file" },
        { ["--url", Url, "--mix", "balanced", "--rate", "2", "--concurrency", "3"], "--rate and --concurrency cannot be combined" },
        { ["--url", Url, "--mix", "balanced", "--rate", "-1"], "--rate must be a number" },
        { ["--url", Url, "--mix", "balanced", "--rate", "inf"], "needs --requests" },
        { ["--url", Url, "--mix", "balanced", "--concurrency", "0"], "--concurrency must be an integer in [1" },
        { ["--url", Url, "--mix", "balanced", "--arrival", "gamma"], "use them with --rate or --sweep" },
        { ["--url", Url, "--mix", "balanced", "--rate", "1", "--arrival", "weibull"], "--arrival must be poisson, constant or gamma" },
        { ["--url", Url, "--mix", "balanced", "--rate", "1", "--arrival", "constant", "--burstiness", "2"], "--burstiness applies to --arrival gamma only" },
        { ["--url", Url, "--mix", "balanced", "--duration", "soon"], "--duration must be a duration" },
        { ["--url", Url, "--mix", "balanced", "--slo-attainment", "0.5"], "needs --slo-ttft or --slo-itl" },
        { ["--url", Url, "--mix", "balanced", "--sweep", "--sweep-fractions", "0.5,x"], "--sweep-fractions must be numbers" },
        { ["--url", Url, "--mix", "balanced", "--frobnicate"], "unknown option '--frobnicate'" },
        { ["--url", Url, "--mix", "balanced", "--model"], "--model needs a value" },
        { ["--url", Url, "--mix", "balanced", "--model", "a", "--models", "a,b"], "--model and --models cannot be combined" },
        { ["--url", Url, "--mix", "balanced", "--models", "a:0,b"], "--models: the weight of 'a' must be a positive number, not '0'" },
        { ["--url", Url, "--mix", "balanced", "--models", "a,b,a"], "--models: 'a' is listed twice" },
        { ["--url", Url, "--mix", "balanced", "--models", "a,,b"], "--models: empty model name" },
        { ["--url", Url, "--url", Url, "--mix", "balanced"], "--url is given more than once" },
        { ["--url", Url, "--mix", "balanced", "stray"], "unexpected argument 'stray'" },
        { ["--url", Url, "--mix", "balanced", "--no-progress=yes"], "--no-progress takes no value" },
    };

    [Theory]
    [MemberData(nameof(BadArguments))]
    public async Task Bad_arguments_exit_2_with_a_message_and_the_usage(string[] args, string expected)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await LoadGenCommand.RunAsync(args, new LoadGenEnvironment { Out = stdout, Error = stderr, Interactive = false }, CancellationToken.None);

        Assert.Equal(2, code);
        var error = stderr.ToString();
        Assert.Contains(expected, error);
        Assert.StartsWith("error: ", error);
        Assert.Contains("usage: flywheel loadgen", error);
        Assert.DoesNotContain("   at ", error); // no stack trace
        Assert.Equal("", stdout.ToString());
    }

    [Fact]
    public async Task A_bad_scenario_file_names_the_field()
    {
        var path = LoadGenRun.WriteScenario("""{"promptTokens": 8, "outputTokens": 8, "structuredShare": "half"}""");
        var stderr = new StringWriter();
        var code = await LoadGenCommand.RunAsync(["--url", Url, "--scenario", path],
            new LoadGenEnvironment { Out = new StringWriter(), Error = stderr, Interactive = false }, CancellationToken.None);
        Assert.Equal(2, code);
        Assert.Contains("field 'structuredShare' must be a number in [0, 1]", stderr.ToString());
    }

    [Fact]
    public async Task Help_prints_usage_and_exits_0()
    {
        var stdout = new StringWriter();
        var code = await LoadGenCommand.RunAsync(["--help"], new LoadGenEnvironment { Out = stdout, Error = new StringWriter() }, CancellationToken.None);
        Assert.Equal(0, code);
        Assert.Contains("--slo-ttft", stdout.ToString());
    }

    [Fact]
    public void Parses_units_and_defaults()
    {
        var options = CommandLine.Parse(["--url", "http://h:1/v1/", "--mix", "structured", "--max-context", "512", "--rate", "2.5",
            "--burstiness", "0.5", "--duration=1m", "--slo-ttft", "500ms", "--slo-itl", "0.05", "--seed", "9"]).Options;
        Assert.Equal("http://h:1/v1/chat/completions", options.Server.ChatCompletions.ToString());
        Assert.Equal((LoadMode.Rate, 2.5, Flywheel.LoadGen.Arrival.ArrivalKind.Gamma, 0.5), (options.Mode, options.RatePerSecond, options.Arrival, options.Burstiness));
        Assert.Equal((60.0, (int?)null, 9), (options.DurationSeconds, options.RequestCount, options.Seed));
        Assert.Equal((0.5, 0.05), (options.Slo.TtftSeconds!.Value, options.Slo.ItlSeconds!.Value));
        Assert.Equal(512, options.MaxContextTokens);
        Assert.Equal(new Flywheel.LoadGen.Workload.UniformLength(32, 96), options.Scenario.OutputTokens); // structured mix at a quarter scale

        var defaults = CommandLine.Parse(["--url", "http://h:1", "--mix", "balanced", "--requests", "5"]).Options;
        Assert.Equal((LoadMode.Concurrency, 4, (double?)null, 5), (defaults.Mode, defaults.Concurrency, defaults.DurationSeconds, defaults.RequestCount));
        Assert.True(defaults.Scenario.IgnoreEos);
        Assert.False(CommandLine.Parse(["--url", "http://h:1", "--mix", "balanced", "--no-ignore-eos"]).Options.Scenario.IgnoreEos);
    }
}
