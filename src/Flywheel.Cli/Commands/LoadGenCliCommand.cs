using Flywheel.LoadGen;
using Flywheel.Tokenization;

namespace Flywheel.Cli;

/// <summary><c>flywheel loadgen</c>: replays workload mixes against an OpenAI-compatible server.</summary>
internal static class LoadGenCliCommand
{
    public static readonly CliApp.Command Definition = new(
        "loadgen",
        "load-test an OpenAI-compatible server and report latency percentiles",
        "usage: flywheel loadgen --url URL [--mix NAME | --scenario FILE] [...]   (flywheel loadgen --help for all options)",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            var environment = new LoadGenEnvironment
            {
                Out = input.Out,
                Error = input.Error,
                TokenizerLoader = path => new TokenCounter(Tokenizer.Load(path)),
            };
            return LoadGenCommand.RunAsync(input.Args, environment, cancel.Token).GetAwaiter().GetResult();
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    private sealed class TokenCounter(Tokenizer tokenizer) : ITokenCounter
    {
        public int Count(string text) => tokenizer.Encode(text).Length;
    }
}
