using System.Diagnostics;
using System.Globalization;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>
/// The per-token cost of constrained decoding in the engine under load. Rounds alternate between a
/// batch of unconstrained requests and the same batch constrained by JSON Schemas whose instances are
/// longer than max_tokens (so both batches run the same number of steps at the same batch size). It
/// reports the median inter-token latency of each (gaps between a request's consecutive tokens, as its
/// reader sees them), the mask time per constrained token, and their ratios, medians over rounds.
/// Use a model with a real tokenizer's vocabulary: mask cost grows with it.
/// </summary>
internal sealed class StructuredOverheadBenchmark : IBenchmark
{
    // Instances of both are far longer than the default max_tokens: every request runs to max_tokens.
    private static readonly string[] Schemas =
    [
        """{"type":"object","properties":{"notes":{"type":"string","minLength":400,"maxLength":800}},"required":["notes"]}""",
        """{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer","minimum":0},"name":{"type":"string","maxLength":12},"ok":{"type":"boolean"}},"required":["id","name","ok"],"additionalProperties":false},"minItems":60}""",
    ];

    public string Name => "structured-overhead";

    public string Description => "inter-token latency with and without grammar masks under load --model DIR [--requests N] [--tokens N] [--rounds N]";

    public int Run(string[] args)
    {
        string? modelDir = null;
        int requests = 8, tokens = 48, rounds = 5;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            switch (args[i])
            {
                case "--model": modelDir = value; break;
                case "--requests": requests = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--tokens": tokens = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        if (modelDir is null)
        {
            Console.Error.WriteLine("--model DIR is required (e.g. flywheel make-model --preset bench --tokenizer <Llama-3 tokenizer.json>)");
            return 2;
        }

        using var model = ModelFolder.Open(modelDir);
        var tokenizer = Tokenizer.Load(model.TokenizerPath);
        var vocabulary = TokenVocabulary.FromTokenizer(tokenizer, [.. model.Config.EosTokenIds.Concat(tokenizer.EosTokenIds)], model.Config.VocabSize);
        var grammars = Schemas.Select(s => JsonSchemaGrammar.Compile(s)).ToArray();
        var options = new EngineOptions { MaxRunningRequests = requests, MaxBatchTokens = 256, ChunkSize = 128 };
        Console.WriteLine($"model {modelDir}: vocab {model.Config.VocabSize}; {requests} concurrent requests x {tokens} tokens, {rounds} rounds");
        using var engine = new LlmEngine(model, options);
        RunBatch(engine, vocabulary, grammars, requests, 8, constrained: true); // warm-up: JIT and the mask caches

        List<double> plainItl = [], constrainedItl = [], maskPerToken = [];
        for (var r = 0; r < rounds; r++)
        {
            var plain = RunBatch(engine, vocabulary, grammars, requests, tokens, constrained: false);
            var constrained = RunBatch(engine, vocabulary, grammars, requests, tokens, constrained: true);
            plainItl.Add(plain.ItlMedian);
            constrainedItl.Add(constrained.ItlMedian);
            maskPerToken.Add(constrained.MaskSecondsPerToken);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  round {r + 1}: ITL p50 plain {plain.ItlMedian * 1e3:F2} ms, constrained {constrained.ItlMedian * 1e3:F2} ms; mask {constrained.MaskSecondsPerToken * 1e6:F1} us/token"));
        }

        var (p, c, m) = (BenchStats.Median(plainItl), BenchStats.Median(constrainedItl), BenchStats.Median(maskPerToken));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"median ITL: plain {p * 1e3:F2} ms, constrained {c * 1e3:F2} ms ({((c / p) - 1) * 100:+0.0;-0.0}%); mask time per token {m * 1e6:F1} us = {m / p * 100:F2}% of the plain ITL"));
        return 0;
    }

    private static (double ItlMedian, double MaskSecondsPerToken) RunBatch(
        LlmEngine engine, TokenVocabulary vocabulary, JsonSchemaGrammar[] grammars, int requests, int tokens, bool constrained)
    {
        var constraints = new List<GrammarConstraint>();
        var readers = new List<Task<List<double>>>();
        for (var i = 0; i < requests; i++)
        {
            GrammarConstraint? constraint = constrained ? new GrammarConstraint(grammars[i % grammars.Length], vocabulary) : null;
            if (constraint is not null)
            {
                constraints.Add(constraint);
            }

            var outcome = engine.TrySubmit(new EngineRequest
            {
                PromptIds = Enumerable.Range(0, 32).Select(t => 100 + ((t * 37) + (i * 11)) % 5000).ToArray(),
                MaxTokens = tokens,
                IgnoreEos = true,
                Sampling = new SamplingParams { Temperature = 0.8, Seed = i },
                Constraint = constraint,
            });
            readers.Add(Gaps(outcome));
        }

        var gaps = Task.WhenAll(readers).GetAwaiter().GetResult().SelectMany(g => g).ToList();
        var maskTokens = constraints.Sum(c => c.MaskCount);
        return (BenchStats.Median(gaps), maskTokens == 0 ? 0 : constraints.Sum(c => c.MaskSeconds) / maskTokens);
    }

    /// <summary>Seconds between consecutive tokens of one request, as its reader receives them.</summary>
    private static async Task<List<double>> Gaps(SubmitOutcome outcome)
    {
        var gaps = new List<double>();
        var last = 0L;
        await foreach (var e in outcome.Events!.ReadAllAsync())
        {
            if (e is TokenEvent)
            {
                var now = Stopwatch.GetTimestamp();
                if (last != 0)
                {
                    gaps.Add(Stopwatch.GetElapsedTime(last, now).TotalSeconds);
                }

                last = now;
            }
            else if (e is FinishEvent { Reason: not FinishReason.Length } f)
            {
                throw new InvalidOperationException($"a request ended early ({f.Reason} {f.Error}): the benchmark needs every request to reach max_tokens");
            }
        }

        return gaps;
    }
}
