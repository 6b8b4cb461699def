using System.Globalization;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>
/// What the json_whitespace modes cost in tokens: a three-field coffee-shop order answered by a model
/// with random weights (the demo model's shape by default) under compact, bounded and unbounded
/// whitespace, with the constraint unaware of max_tokens and with it given. Prints tokens per answer
/// and how many answers are valid; random weights are the worst case for whitespace, since nothing
/// steers the model away from it.
/// </summary>
internal sealed class JsonWhitespaceBenchmark : IBenchmark
{
    private const string Order = """{"type":"object","properties":{"drink":{"enum":["latte","mocha","espresso","tea"]},"size":{"enum":["short","tall","grande","venti"]},"milk":{"enum":["whole","skim","oat","soy"]}},"required":["drink","size","milk"],"additionalProperties":false}""";

    private static readonly (string Name, int MaxWhitespace)[] Modes =
    [
        ("compact", 0),
        ("bounded", JsonSchemaCompileOptions.DefaultMaxWhitespace),
        ("any", JsonSchemaCompileOptions.UnboundedWhitespace),
    ];

    public string Name => "json-whitespace";

    public string Description => "tokens per constrained answer of a small schema under compact/bounded/any whitespace [--model DIR] [--requests N] [--max-tokens N]";

    public int Run(string[] args)
    {
        string? modelDir = null;
        var requests = 20;
        var maxTokens = 200;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": modelDir = args[i + 1]; break;
                case "--requests": requests = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--max-tokens": maxTokens = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        modelDir ??= GrammarBudgetBenchmark.DemoShapedModel();
        using var model = ModelFolder.Open(modelDir);
        var tokenizer = Tokenizer.Load(model.TokenizerPath);
        var eos = model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).ToHashSet();
        var vocabulary = TokenVocabulary.FromTokenizer(tokenizer, [.. eos], model.Config.VocabSize);
        var validator = JsonSchemaValidator.Create(Order);
        using var engine = new LlmEngine(model, new EngineOptions { MaxRunningRequests = 8, MaxBatchTokens = 256, ChunkSize = 64 });
        Console.WriteLine($"model {modelDir}: vocab {model.Config.VocabSize}; coffee order, {requests} sampled requests (temperature 1), max_tokens {maxTokens}");
        Console.WriteLine($"{"mode",-8} {"budget",7} {"min",4} {"tokens mean",12} {"p50",5} {"p90",5} {"max",5} {"valid",7}");
        foreach (var (mode, maxWhitespace) in Modes)
        {
            var grammar = JsonSchemaGrammar.Compile(Order, new JsonSchemaCompileOptions { MaxWhitespace = maxWhitespace });
            var minimum = grammar.MinimumTokens(vocabulary);
            foreach (var budgeted in new[] { false, true })
            {
                var runs = Enumerable.Range(0, requests).Select(i => GrammarBudgetBenchmark.Collect(engine.TrySubmit(new EngineRequest
                {
                    PromptIds = Enumerable.Range(0, 12).Select(t => 10 + (((t * 37) + (i * 11)) % 1500)).ToArray(),
                    MaxTokens = maxTokens,
                    Sampling = new SamplingParams { Temperature = 1.0, Seed = 2000 + i },
                    Constraint = budgeted ? new GrammarConstraint(grammar, vocabulary, maxTokens) : new GrammarConstraint(grammar, vocabulary),
                }))).ToList();
                var lengths = new List<int>();
                var valid = 0;
                foreach (var tokens in Task.WhenAll(runs).GetAwaiter().GetResult())
                {
                    var kept = tokens.Where(t => !eos.Contains(t)).ToArray();
                    lengths.Add(kept.Length);
                    valid += Valid(validator, tokenizer.Decode(kept)) ? 1 : 0;
                }

                lengths.Sort();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{mode,-8} {(budgeted ? "given" : "unaware"),7} {minimum,4} {lengths.Average(),12:F1} {lengths[lengths.Count / 2],5} {lengths[(int)(lengths.Count * 0.9)],5} {lengths[^1],5} {$"{valid}/{requests}",7}"));
            }
        }

        return 0;
    }

    private static bool Valid(JsonSchemaValidator validator, string text)
    {
        try
        {
            using var _ = System.Text.Json.JsonDocument.Parse(text);
            return validator.Validate(text).Count == 0;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }
}
