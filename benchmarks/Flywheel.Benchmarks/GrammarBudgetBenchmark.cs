using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>
/// What the token budget of a grammar constraint buys and costs. Through the engine on a model with
/// random weights (the demo model's shape by default), the share of constrained answers that are
/// complete and valid at small max_tokens, with the constraint unaware of max_tokens and with it
/// given; then, on a 128k vocabulary, the mask time per token when every step is near the end of the
/// budget (each token checked) against no budget.
/// </summary>
internal sealed class GrammarBudgetBenchmark : IBenchmark
{
    private static readonly (string Name, string Schema)[] Schemas =
    [
        ("person", """{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":40},"age":{"type":"integer","minimum":0,"maximum":120},"tags":{"type":"array","items":{"enum":["red","green","blue"]}},"ok":{"type":"boolean"}},"required":["name","age"],"additionalProperties":false}"""),
        ("coffee", """{"type":"object","properties":{"drink":{"enum":["latte","mocha","espresso","tea"]},"size":{"enum":["short","tall","grande","venti"]},"milk":{"enum":["whole","skim","oat","soy"]},"notes":{"type":"string"}},"required":["drink","size"],"additionalProperties":false}"""),
        ("list", """{"type":"array","items":{"type":"string","minLength":2},"minItems":2}"""),
        ("nested", """{"type":"object","properties":{"user":{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},"required":["id","email"]},"score":{"type":"number"}},"required":["user","score"]}"""),
    ];

    private static readonly int[] MaxTokens = [24, 48, 96];

    public string Name => "grammar-budget";

    public string Description => "valid share of constrained answers at small max_tokens without/with the budget, and tight-mask time [--model DIR] [--requests N]";

    public int Run(string[] args)
    {
        string? modelDir = null;
        var requests = 20;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": modelDir = args[i + 1]; break;
                case "--requests": requests = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        ValidShares(modelDir ?? DemoShapedModel(), requests);
        TightMaskTimes();
        return 0;
    }

    private static void ValidShares(string modelDir, int requests)
    {
        using var model = ModelFolder.Open(modelDir);
        var tokenizer = Tokenizer.Load(model.TokenizerPath);
        var vocabulary = TokenVocabulary.FromTokenizer(tokenizer, [.. model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds)], model.Config.VocabSize);
        Console.WriteLine($"model {modelDir}: vocab {model.Config.VocabSize}; {requests} sampled requests (temperature 1) per cell");
        Console.WriteLine($"{"schema",-8} {"min",4} {"max_tokens",10} {"valid without budget",21} {"valid with budget",18} {"mask us/token without/with",27}");
        var eos = model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds).ToHashSet();
        using var engine = new LlmEngine(model, new EngineOptions { MaxRunningRequests = 8, MaxBatchTokens = 256, ChunkSize = 64 });
        foreach (var (name, schema) in Schemas)
        {
            var grammar = JsonSchemaGrammar.Compile(schema);
            var validator = JsonSchemaValidator.Create(schema);
            var minimum = grammar.MinimumTokens(vocabulary) ?? int.MaxValue; // none: no budget can be guaranteed
            foreach (var maxTokens in MaxTokens)
            {
                var without = Batch(engine, tokenizer, eos, validator, requests, maxTokens, () => new GrammarConstraint(grammar, vocabulary));
                var with = maxTokens < minimum
                    ? (Valid: -1, MaskUs: 0.0)
                    : Batch(engine, tokenizer, eos, validator, requests, maxTokens, () => new GrammarConstraint(grammar, vocabulary, maxTokens));
                var withText = with.Valid < 0 ? "refused (below min)" : $"{with.Valid}/{requests}";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-8} {minimum,4} {maxTokens,10} {$"{without.Valid}/{requests}",21} {withText,18} {$"{without.MaskUs:F1}/{with.MaskUs:F1}",27}"));
            }
        }
    }

    /// <summary>Runs <paramref name="requests"/> constrained requests at once; how many decode to a valid document, and the mean mask time.</summary>
    private static (int Valid, double MaskUs) Batch(LlmEngine engine, Tokenizer tokenizer, HashSet<int> eos, JsonSchemaValidator validator, int requests, int maxTokens, Func<GrammarConstraint> constraint)
    {
        var constraints = Enumerable.Range(0, requests).Select(_ => constraint()).ToList();
        var runs = constraints.Select((c, i) => Collect(engine.TrySubmit(new EngineRequest
        {
            PromptIds = Enumerable.Range(0, 12).Select(t => 10 + (((t * 37) + (i * 11)) % 1500)).ToArray(),
            MaxTokens = maxTokens,
            Sampling = new SamplingParams { Temperature = 1.0, Seed = 1000 + i },
            Constraint = c,
        }))).ToList();
        var valid = 0;
        foreach (var tokens in Task.WhenAll(runs).GetAwaiter().GetResult())
        {
            var text = tokenizer.Decode([.. tokens.Where(t => !eos.Contains(t))]);
            if (IsJson(text) && validator.Validate(text).Count == 0)
            {
                valid++;
            }
        }

        var masks = constraints.Sum(c => c.MaskCount);
        return (valid, masks == 0 ? 0 : constraints.Sum(c => c.MaskSeconds) / masks * 1e6);
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    internal static async Task<List<int>> Collect(SubmitOutcome outcome)
    {
        var tokens = new List<int>();
        await foreach (var e in outcome.Events!.ReadAllAsync())
        {
            if (e is TokenEvent t)
            {
                tokens.Add(t.Token.Id);
            }
            else if (e is FinishEvent { Reason: FinishReason.Error } f)
            {
                throw new InvalidOperationException($"a request failed: {f.Error}");
            }
        }

        return tokens;
    }

    /// <summary>
    /// Mask time per token replaying each <see cref="GrammarBenchmark"/> document without a budget and
    /// with a budget of its byte length: enough for the document, and so small that the masks check
    /// tokens one by one. Alternates the two, three rounds each, and reports medians.
    /// </summary>
    private static void TightMaskTimes()
    {
        var (vocab, source) = GrammarBenchmark.LoadVocabulary();
        Console.WriteLine($"mask time per token, vocabulary: {vocab.Count} tokens ({source}); warm cache, median over steps and rounds");
        Console.WriteLine($"{"schema",-12} {"tokens",7} {"min",4} {"budget",7} {"table ms",9} {"us without budget p50/p90",26} {"us near the budget p50/p90",27}");
        foreach (var (name, schema, document) in GrammarBenchmark.Cases)
        {
            var grammar = schema.Length == 0 ? JsonSchemaGrammar.AnyJsonObject() : JsonSchemaGrammar.Compile(schema);
            var tokens = GrammarBenchmark.Tokenize(grammar, vocab, document);
            var started = Stopwatch.GetTimestamp();
            var minimum = grammar.MinimumTokens(vocab) ?? -1; // works out the budget table: once per grammar and vocabulary
            var tableMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var budget = System.Text.Encoding.UTF8.GetByteCount(document);
            List<double> plain = [], tight = [];
            for (var round = 0; round < 3; round++)
            {
                plain.AddRange(GrammarBenchmark.Replay(new GrammarMatcher(grammar, vocab), tokens));
                tight.AddRange(GrammarBenchmark.Replay(new GrammarMatcher(grammar, vocab, budget), tokens));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-12} {tokens.Count,7} {minimum,4} {budget,7} {tableMs,9:F1} {Stats(plain),26} {Stats(tight),27}"));
        }
    }

    private static string Stats(List<double> us)
    {
        us.Sort();
        return string.Create(CultureInfo.InvariantCulture, $"{us[us.Count / 2]:F1}/{us[(int)(us.Count * 0.9)]:F1}");
    }

    /// <summary>The demo model's shape (tiny preset, 2,000-token common-words tokenizer), built once into the temp folder.</summary>
    internal static string DemoShapedModel()
    {
        var dir = Path.Combine(Path.GetTempPath(), "flywheel-bench-demo-model");
        if (!File.Exists(Path.Combine(dir, "genai_config.json")))
        {
            Console.WriteLine($"building the demo-shaped model into {dir}");
            ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { VocabSize = 2000, ContextLength = 2048 }, null,
                (folder, size) => SyntheticTokenizer.Write(folder, size, SyntheticTokenizer.CommonWordsCorpus));
        }

        return dir;
    }
}
