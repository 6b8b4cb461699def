using System.Diagnostics;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Cli.Bench;

/// <summary>
/// Replays a mix through the engine under one policy (greedy, ignore_eos, so output lengths are exact)
/// and measures throughput and latency; and measures the bare model's ceiling for the same tokens.
/// </summary>
internal sealed class BenchRunner(ModelFolder model, EngineOptions baseOptions)
{
    public BenchRecord Run(BenchMix mix, SchedulingPolicy policy, IReadOnlyList<(int Prompt, int Output)> requests, double? rate, int seed, double ceiling)
    {
        using var engine = new LlmEngine(model, baseOptions with { Policy = policy, QueueCapacity = Math.Max(baseOptions.QueueCapacity, requests.Count) });
        // Warm-up (JIT, ORT's first runs of each shape) outside the measurement.
        var warmup = engine.TrySubmit(new EngineRequest { PromptIds = Enumerable.Range(1, Math.Min(64, requests[0].Prompt)).ToArray(), MaxTokens = 4, IgnoreEos = true });
        while (warmup.Events!.WaitToReadAsync().AsTask().GetAwaiter().GetResult() && warmup.Events.TryRead(out _))
        {
        }

        var random = new Random(seed);
        var vocab = model.Config.VocabSize;
        var prompts = requests.Select(r => Enumerable.Range(0, r.Prompt).Select(_ => random.Next(0, vocab)).ToArray()).ToList();
        var arrivals = new double[requests.Count];
        for (var i = 1; i < arrivals.Length; i++)
        {
            // Poisson arrivals: exponential gaps with mean 1/rate; without a rate everything arrives at once.
            arrivals[i] = arrivals[i - 1] + (rate is { } r ? -Math.Log(1 - random.NextDouble()) / r : 0);
        }

        var ttft = new double[requests.Count];
        var e2e = new double[requests.Count];
        var gaps = new List<double>[requests.Count];
        var clock = Stopwatch.StartNew();
        var readers = new Task[requests.Count];
        for (var i = 0; i < requests.Count; i++)
        {
            var wait = arrivals[i] - clock.Elapsed.TotalSeconds;
            if (wait > 0)
            {
                Thread.Sleep(TimeSpan.FromSeconds(wait));
            }

            var outcome = engine.TrySubmit(new EngineRequest { PromptIds = prompts[i], MaxTokens = requests[i].Output, IgnoreEos = true, Sampling = new SamplingParams() });
            if (!outcome.Accepted)
            {
                throw new CliException($"the engine refused a benchmark request: {outcome.Error ?? "queue full"}");
            }

            var index = i;
            var submitted = clock.Elapsed.TotalSeconds;
            gaps[index] = [];
            readers[i] = Task.Run(async () =>
            {
                var last = submitted;
                var first = true;
                await foreach (var e in outcome.Events!.ReadAllAsync())
                {
                    var now = clock.Elapsed.TotalSeconds;
                    if (e is TokenEvent)
                    {
                        if (first)
                        {
                            ttft[index] = now - submitted;
                            first = false;
                        }
                        else
                        {
                            gaps[index].Add(now - last);
                        }

                        last = now;
                    }
                    else if (e is FinishEvent f && f.Reason != FinishReason.Length)
                    {
                        throw new CliException($"benchmark request ended with {f.Reason}: {f.Error}");
                    }
                }

                e2e[index] = last - submitted;
            });
        }

        Task.WaitAll(readers);
        var wall = clock.Elapsed.TotalSeconds;
        long promptTokens = requests.Sum(r => (long)r.Prompt), outputTokens = requests.Sum(r => (long)r.Output);
        var itl = gaps.SelectMany(g => g).ToArray();
        return new BenchRecord(
            mix.Name, EngineOptions.PolicyName(policy), requests.Count,
            outputTokens / wall, (promptTokens + outputTokens) / wall, ceiling,
            Percentile(ttft, 50), Percentile(ttft, 99), Percentile(itl, 50), Percentile(itl, 99), Percentile(e2e, 50), Percentile(e2e, 99));
    }

    /// <summary>
    /// The ceiling: the bare model (DecoderRunner, no scheduler, no channels, no sampling beyond argmax)
    /// pushing the mix's prompt tokens as chunks of MaxBatchTokens (batch 1, on top of a past as the engine
    /// runs them) and its output tokens as decode Runs of MaxRunningRequests rows at the mix's mean context
    /// length. tokens/s = (prompt + output tokens) / (prompt Runs needed x median chunk-Run time + decode
    /// Runs needed x median decode-Run time). When the engine may use the mixed graph, the mixed shape (all
    /// rows decoding plus a chunk of the rest of the budget, one Run) is a shape available to it too, so the
    /// ceiling is the better of that packing (mixed Runs while both kinds of token last, then the pure
    /// shapes) and the pure one.
    /// </summary>
    public Ceiling Ceiling(IReadOnlyList<(int Prompt, int Output)> requests, int warmups = 3, int repeats = 9)
    {
        var c = model.Config;
        var rows = baseOptions.MaxRunningRequests;
        var chunk = Math.Min(baseOptions.MaxBatchTokens, c.ContextLength - 1);
        var mixedChunk = chunk - rows;
        using var cache = new KvCache(c.Decoder.NumHiddenLayers, rows + 1, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize, model.KvElementType);
        using var runner = new DecoderRunner(model.Session, c, cache, Math.Max(chunk, rows), baseOptions.MixedRuns ? model.MixedSession : null);
        var mixed = runner.CanRunMixed && mixedChunk > 0;
        long promptTokens = requests.Sum(r => (long)r.Prompt), outputTokens = requests.Sum(r => (long)r.Output);
        var meanContext = (int)Math.Min(c.ContextLength - 2, requests.Average(r => r.Prompt + (r.Output / 2.0)));
        var meanPrompt = (int)requests.Average(r => r.Prompt);

        var ids = new long[Math.Max(chunk, rows)];
        var chunkPast = Math.Max(0, Math.Min(meanPrompt - chunk, c.ContextLength - chunk - 1)) / 2;
        var chunkTimes = new List<double>();
        var decodeTimes = new List<double>();
        var mixedTimes = new List<double>();
        var past = Enumerable.Repeat(meanContext, rows).ToArray();
        var ones = Enumerable.Repeat(1, rows).ToArray();
        for (var i = 0; i < warmups + repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            var logits = runner.Run(rows, 1, chunk, ids.AsSpan(0, chunk), [chunkPast], [chunk]);
            TokenSampler.Argmax(logits[^c.VocabSize..]);
            chunkTimes.Add(clock.Elapsed.TotalSeconds);
            clock.Restart();
            logits = runner.Run(0, rows, 1, ids.AsSpan(0, rows), past, ones);
            for (var r = 0; r < rows; r++)
            {
                TokenSampler.Argmax(logits.Slice(r * c.VocabSize, c.VocabSize));
            }

            decodeTimes.Add(clock.Elapsed.TotalSeconds);
            if (mixed)
            {
                clock.Restart();
                logits = runner.RunMixed(0, rows, ids.AsSpan(0, rows), past, rows, ids.AsSpan(0, mixedChunk), chunkPast);
                for (var r = 0; r <= rows; r++)
                {
                    TokenSampler.Argmax(logits.Slice((r < rows ? r : rows + mixedChunk - 1) * c.VocabSize, c.VocabSize));
                }

                mixedTimes.Add(clock.Elapsed.TotalSeconds);
            }
        }

        // The warm-up repetitions are dropped.
        var chunkSeconds = Percentile(chunkTimes.Skip(warmups).ToArray(), 50);
        var decodeSeconds = Percentile(decodeTimes.Skip(warmups).ToArray(), 50);
        double Pure(double prompt, double output) => (Math.Ceiling(prompt / chunk) * chunkSeconds) + (Math.Ceiling(output / rows) * decodeSeconds);
        var seconds = Pure(promptTokens, outputTokens);
        var mixedSeconds = double.NaN;
        if (mixed)
        {
            mixedSeconds = Percentile(mixedTimes.Skip(warmups).ToArray(), 50);
            var runs = Math.Min(promptTokens / (double)mixedChunk, outputTokens / (double)rows);
            var packed = (runs * mixedSeconds) + Pure(promptTokens - (runs * mixedChunk), outputTokens - (runs * rows));
            seconds = Math.Min(seconds, packed);
        }

        return new Ceiling((promptTokens + outputTokens) / seconds, chunkSeconds, decodeSeconds, mixedSeconds);
    }

    internal static double Percentile(double[] values, double p)
    {
        if (values.Length == 0)
        {
            return 0;
        }

        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((sorted[high] - sorted[low]) * (rank - low));
    }
}

/// <summary>A ceiling measurement: tokens/s and the median Run times it came from (MixedSeconds NaN without the mixed graph).</summary>
internal sealed record Ceiling(double TokensPerSecond, double ChunkSeconds, double DecodeSeconds, double MixedSeconds);
