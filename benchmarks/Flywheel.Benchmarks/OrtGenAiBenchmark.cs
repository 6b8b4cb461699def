using System.Diagnostics;
using System.Globalization;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Tokenization;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Flywheel.Benchmarks;

/// <summary>
/// Flywheel's engine against ORT GenAI 0.20's own generator on the same model folder, in one process and
/// one run: for each of the bench mixes (the prompt and output lengths of <c>flywheel bench</c>'s mixes, at
/// their means), N equal-length requests. ORT GenAI gets its best case, one static batch of N (its C# API
/// has no continuous batching); Flywheel gets the same N requests submitted at once. Then both single-stream.
/// Total tokens/s = (prompt + output tokens) / wall seconds. The two alternate per round; medians reported.
/// </summary>
internal sealed class OrtGenAiBenchmark : IBenchmark
{
    // The mixes of src/Flywheel.Cli/Bench/BenchMix.cs: (prompt, output) as fractions of the context.
    private static readonly (string Name, double Prompt, double Output)[] Mixes =
    [
        ("prompt-heavy", 1.0 / 4, 1.0 / 128),
        ("balanced", 1.0 / 8, 1.0 / 16),
        ("generation-heavy", 1.0 / 64, 1.0 / 8),
    ];

    public string Name => "ort-genai";

    public string Description => "total tok/s of Flywheel's engine vs ORT GenAI's static batch on one folder [--model DIR] [--requests N] [--rounds N] [--mixes a,b]";

    public int Run(string[] args)
    {
        string? modelDir = null;
        int requests = 16, rounds = 3;
        var mixNames = Mixes.Select(m => m.Name).ToList();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--model": modelDir = args[i + 1]; break;
                case "--requests": requests = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--mixes": mixNames = [.. args[i + 1].Split(',')]; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        modelDir = BenchModel.FolderOrDefault(modelDir);

        _ = OnnxEnvironment.Instance; // the engine's environment first; ORT GenAI shares the process's one
        using var folder = ModelFolder.Open(modelDir, loadMixed: false);
        using var genAi = new Model(modelDir);
        var context = folder.Config.ContextLength;
        Console.WriteLine($"model {modelDir}: {folder.Config.Decoder.NumHiddenLayers} layers, hidden {folder.Config.Decoder.HiddenSize}, vocab {folder.Config.VocabSize}, context {context}; {rounds} rounds, medians");
        Console.WriteLine($"{"mix",-17} {"requests",8} {"prompt",6} {"output",6} {"flywheel tok/s",15} {"ORT GenAI tok/s",16} {"ratio",6}");
        foreach (var (name, promptFraction, outputFraction) in Mixes.Where(m => mixNames.Contains(m.Name)))
        {
            var prompt = Math.Max(1, (int)Math.Round(context * promptFraction));
            var output = Math.Min(Math.Max(1, (int)Math.Round(context * outputFraction)), context - prompt - 1);
            foreach (var n in new[] { requests, 1 })
            {
                var ids = Prompts(n, prompt, folder.Config.VocabSize);
                Flywheel(folder, ids[..1], 4); // warm-up: JIT and ORT's first Runs of each shape
                OrtGenAi(genAi, ids[..1], 4);
                var ours = new List<double>();
                var theirs = new List<double>();
                for (var r = 0; r < rounds; r++)
                {
                    ours.Add(n * (prompt + output) / Flywheel(folder, ids, output));
                    theirs.Add(n * (prompt + output) / OrtGenAi(genAi, ids, output));
                }

                var (f, g) = (BenchStats.Median(ours), BenchStats.Median(theirs));
                Console.WriteLine($"{name,-17} {n,8} {prompt,6} {output,6} {f,15:F1} {g,16:F1} {f / g,6:F2}");
            }
        }

        return 0;
    }

    private static int[][] Prompts(int count, int length, int vocab)
    {
        var random = new Random(1);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => random.Next(0, vocab)).ToArray())];
    }

    /// <summary>All prompts submitted at once to a fresh engine (default options); seconds until the last finishes.</summary>
    private static double Flywheel(ModelFolder folder, int[][] prompts, int output)
    {
        using var engine = new LlmEngine(folder, new EngineOptions { MaxRunningRequests = Math.Max(16, prompts.Length), QueueCapacity = Math.Max(256, prompts.Length) });
        var clock = Stopwatch.StartNew();
        var outcomes = prompts.Select(p => engine.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = output, IgnoreEos = true })).ToList();
        EngineDrain.WaitAll(outcomes);

        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>ORT GenAI's generator over one static batch of the prompts (equal lengths), greedy; seconds.</summary>
    private static double OrtGenAi(Model model, int[][] prompts, int output)
    {
        var clock = Stopwatch.StartNew();
        using var search = new GeneratorParams(model);
        search.SetSearchOption("batch_size", prompts.Length);
        search.SetSearchOption("max_length", prompts[0].Length + output);
        search.SetSearchOption("min_length", prompts[0].Length + output); // as IgnoreEos: every row runs to the end
        search.SetSearchOption("do_sample", false);
        using var generator = new Generator(model, search);
        generator.AppendTokens([.. prompts.SelectMany(p => p)]);
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
        }

        return clock.Elapsed.TotalSeconds;
    }
}
