using Flywheel.Execution;
using Flywheel.Sampling;
using static Flywheel.Cli.ModelLoading;

namespace Flywheel.Cli;

/// <summary><c>flywheel generate</c>: one request, greedy or sampled; prints the text and token counts.</summary>
internal static class GenerateCommand
{
    public static readonly CliApp.Command Definition = new(
        "generate",
        "generate text for one prompt",
        "usage: flywheel generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--repetition-penalty R] [--seed S] [--ignore-eos] [--threads N] [--device cpu|cuda] [--max-model-len N]",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args, "ignore-eos");
        var modelDir = args.Required("model");
        var prompt = args.Required("prompt");
        var parameters = new GenerateParams
        {
            MaxTokens = args.Int("max-tokens", 1, 1 << 20) ?? 64,
            Sampling = new SamplingParams
            {
                Temperature = args.Double("temperature", 0, 100) ?? 0,
                TopK = args.Int("top-k", 0, int.MaxValue) ?? 0,
                TopP = args.Double("top-p", 1e-9, 1) ?? 1,
                MinP = args.Double("min-p", 0, 1) ?? 0,
                RepetitionPenalty = args.Double("repetition-penalty", 1e-6, 100) ?? 1,
                Seed = args.Int("seed"),
            },
            IgnoreEos = args.Flag("ignore-eos"),
        };
        var threads = args.Int("threads", 0, 1024);
        var device = DeviceFrom(args);
        var maxModelLength = args.Int("max-model-len", 2, int.MaxValue);
        args.EnsureAllUsed();

        using var model = OpenModel(modelDir, threads, device, loadMixed: false, maxModelLength);
        var tokenizer = LoadTokenizer(model.TokenizerPath);
        using var generator = new TextGenerator(model, tokenizer);
        var ids = generator.EncodePrompt(prompt);
        GenerateResult result;
        try
        {
            result = generator.Generate(ids, parameters, (_, text) =>
            {
                input.Out.Write(text);
                input.Out.Flush();
                return true;
            });
        }
        catch (ArgumentException e)
        {
            throw new CliException(e.Message, e);
        }

        input.Out.WriteLine();
        input.Error.WriteLine(
            $"prompt_tokens={result.PromptTokenCount} completion_tokens={result.TokenIds.Count} finish_reason={result.FinishReason.ToString().ToLowerInvariant()} " +
            $"prefill_s={result.PrefillSeconds:F3} decode_tokens_per_s={result.DecodeTokensPerSecond:F1}");
        return 0;
    }
}
