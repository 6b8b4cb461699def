using System.Text.Json;
using Flywheel.Cli.Bench;
using Flywheel.Scheduling;

namespace Flywheel.Cli;

/// <summary><c>flywheel bench</c>: replays workload mixes through each scheduling policy, in process, against the model's ceiling.</summary>
internal static class BenchCommand
{
    public static readonly CliApp.Command Definition = new(
        "bench",
        "compare scheduling policies on workload mixes against the bare model's ceiling",
        "usage: flywheel bench --model DIR [--mixes prompt-heavy,balanced,generation-heavy] [--policies flywheel,prefill-first,sequential]\n" +
        "                      [--requests N] [--rate R] [--repeat N] [--seed N] [--out FILE] [--max-batch-tokens N] [--chunk-size N] [--max-running N] [--mixed-runs on|off] [--threads N] [--device cpu|cuda] [--max-model-len N]",
        Run);

    private static int Run(CliApp.CommandArgsInput input)
    {
        var args = CommandArgs.Parse(input.Args);
        var modelDir = args.Required("model");
        var mixes = (args.String("mixes") ?? "prompt-heavy,balanced,generation-heavy").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(BenchMix.Parse).ToList();
        var policies = (args.String("policies") ?? "flywheel,prefill-first,sequential").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(ParsePolicy).ToList();
        var count = args.Int("requests", 1, 100_000) ?? 16;
        var rate = args.Double("rate", 1e-6, 1e6);
        var repeat = args.Int("repeat", 1, 100) ?? 1;
        var seed = args.Int("seed") ?? 1;
        var output = args.String("out");
        var threads = args.Int("threads", 0, 1024);
        var device = ModelLoading.DeviceFrom(args);
        var options = EngineOptionsArguments.EngineOptionsFrom(args);
        var maxModelLength = args.Int("max-model-len", 2, int.MaxValue);
        args.EnsureAllUsed();

        using var model = ModelLoading.OpenModel(modelDir, threads, device, options.MixedRuns, maxModelLength);
        var runner = new BenchRunner(model, options);
        var context = model.Config.ContextLength;
        input.Out.WriteLine($"model {model.Name}: {model.Config.Decoder.NumHiddenLayers} layers, hidden {model.Config.Decoder.HiddenSize}, vocab {model.Config.VocabSize}, context {context}");
        input.Out.WriteLine($"engine: {options.MaxRunningRequests} running, {options.MaxBatchTokens} tokens/step, chunk {options.ChunkSize}; {count} requests per run, {(rate is null ? "all arriving at once" : $"Poisson arrivals at {rate} req/s")}");
        input.Out.WriteLine();
        input.Out.WriteLine($"{"mix",-17} {"policy",-20} {"out tok/s",10} {"total tok/s",12} {"ceiling",9} {"eff",6} {"ttft p50",9} {"ttft p99",9} {"itl p50",9} {"itl p99",9} {"e2e p50",9} {"e2e p99",9}");
        var records = new List<BenchRecord>();
        foreach (var mix in mixes)
        {
            var requests = mix.Requests(count, context, seed);
            var runs = policies.Select(_ => new List<BenchRecord>()).ToList();
            // Repeats go round the policies (A B C A B C ...), so the policies compared see the same
            // stretch of a shared machine; the report gives each repeat's line and then the medians.
            for (var k = 0; k < repeat; k++)
            {
                for (var p = 0; p < policies.Count; p++)
                {
                    // The ceiling is measured right before and right after each run and averaged, so a run and
                    // the ceiling it is divided by see the same machine (this one is shared and noisy).
                    var before = runner.Ceiling(requests);
                    var run = runner.Run(mix, policies[p], requests, rate, seed, 0);
                    var after = runner.Ceiling(requests);
                    var ceiling = (before.TokensPerSecond + after.TokensPerSecond) / 2;
                    var r = run with { ceiling_tokens_per_s = ceiling, efficiency = run.total_tokens_per_s / ceiling };
                    var label = repeat > 1 ? $" (repeat {k + 1} of {repeat})" : "";
                    input.Out.WriteLine($"{mix.Name}/{r.policy}{label}: ceiling {ceiling:F1} tok/s (before {before.TokensPerSecond:F1}, after {after.TokensPerSecond:F1}; median chunk Run of {options.MaxBatchTokens} tokens " +
                        $"{before.ChunkSeconds * 1000:F1}/{after.ChunkSeconds * 1000:F1} ms, decode Run of {options.MaxRunningRequests} rows {before.DecodeSeconds * 1000:F1}/{after.DecodeSeconds * 1000:F1} ms" +
                        (double.IsNaN(before.MixedSeconds) ? ")" : $", mixed Run of both {before.MixedSeconds * 1000:F1}/{after.MixedSeconds * 1000:F1} ms)"));
                    WriteLine(input.Out, r, r.policy);
                    runs[p].Add(r);
                }
            }

            for (var p = 0; p < policies.Count; p++)
            {
                var median = BenchRecord.Median(runs[p]);
                if (repeat > 1)
                {
                    WriteLine(input.Out, median, $"{median.policy} median");
                }

                records.Add(median);
            }
        }

        if (output is not null)
        {
            File.WriteAllText(output, JsonSerializer.Serialize(records, new JsonSerializerOptions { WriteIndented = true }));
            input.Out.WriteLine($"wrote {output}");
        }

        return 0;
    }

    private static void WriteLine(TextWriter output, BenchRecord r, string policy) =>
        output.WriteLine($"{r.mix,-17} {policy,-20} {r.output_tokens_per_s,10:F1} {r.total_tokens_per_s,12:F1} {r.ceiling_tokens_per_s,9:F1} {r.efficiency,6:P0} " +
            $"{r.ttft_p50_s,9:F3} {r.ttft_p99_s,9:F3} {r.itl_p50_s,9:F4} {r.itl_p99_s,9:F4} {r.e2e_p50_s,9:F3} {r.e2e_p99_s,9:F3}");

    private static SchedulingPolicy ParsePolicy(string name)
    {
        try
        {
            return EngineOptions.ParsePolicy(name);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }
}
