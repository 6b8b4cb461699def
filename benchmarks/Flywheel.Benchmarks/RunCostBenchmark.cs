using System.Diagnostics;
using System.Globalization;
using Flywheel.Execution;
using Flywheel.Models;

namespace Flywheel.Benchmarks;

/// <summary>
/// The cost model behind the engine's Run grouping (<c>EngineOptions.RunOverheadTokens</c>): median time of one
/// prompt-chunk Run (batch 1, no past) for several chunk lengths, and of one decode Run for several row counts,
/// with a least-squares line (fixed ms + ms per token) through the chunk times. With the mixed graph (a
/// folder Flywheel built), also a FlyWheel step as separate Runs (decode Run + chunk Run on top of a past)
/// against the same work as one mixed Run, alternating the two in each round.
/// </summary>
internal sealed class RunCostBenchmark : IBenchmark
{
    public string Name => "run-cost";

    public string Description => "time of one chunk Run vs its length and one decode Run vs its rows --model DIR [--rounds N]";

    public int Run(string[] args)
    {
        var at = Array.IndexOf(args, "--model");
        if (at < 0 || at + 1 >= args.Length)
        {
            Console.Error.WriteLine("usage: run-cost --model DIR [--rounds N]");
            return 2;
        }

        var rounds = Array.IndexOf(args, "--rounds") is var r && r >= 0 && r + 1 < args.Length ? int.Parse(args[r + 1], CultureInfo.InvariantCulture) : 9;
        using var model = ModelFolder.Open(args[at + 1]);
        var c = model.Config;
        using var cache = new KvCache(c.Decoder.NumHiddenLayers, 16, c.Decoder.NumKeyValueHeads, c.ContextLength, c.Decoder.HeadSize, model.KvElementType);
        using var runner = new DecoderRunner(model.Session, c, cache, 512, model.MixedSession);
        var ids = Enumerable.Range(0, 256).Select(i => (long)((i * 7) % 100) + 5).ToArray();
        var past = Enumerable.Repeat(256, 16).ToArray();
        var ones = Enumerable.Repeat(1, 16).ToArray();

        double Time(Action run)
        {
            run();
            var times = new List<double>();
            for (var i = 0; i < rounds; i++)
            {
                var clock = Stopwatch.StartNew();
                run();
                times.Add(clock.Elapsed.TotalMilliseconds);
            }

            return BenchStats.Median(times);
        }

        var lengths = new[] { 1, 16, 32, 64, 128, 256 };
        var chunkMs = lengths.Select(n => Time(() => runner.Run(0, 1, n, ids.AsSpan(0, n), [0], [n]))).ToArray();
        for (var i = 0; i < lengths.Length; i++)
        {
            Console.WriteLine($"chunk Run of {lengths[i],3} tokens: {chunkMs[i],7:F2} ms");
        }

        foreach (var rows in new[] { 1, 4, 8, 16 })
        {
            Console.WriteLine($"decode Run of {rows,2} rows (past 256): {Time(() => runner.Run(0, rows, 1, ids.AsSpan(0, rows), past.AsSpan(0, rows), ones.AsSpan(0, rows))),7:F2} ms");
        }

        // Managed allocation per Run at steady state (the same Run again and again, as a decode loop does).
        double BytesPerRun(Action run)
        {
            run();
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 50; i++)
            {
                run();
            }

            return (GC.GetAllocatedBytesForCurrentThread() - before) / 50.0;
        }

        Console.WriteLine($"managed bytes allocated per Run: decode 16 rows {BytesPerRun(() => runner.Run(0, 16, 1, ids.AsSpan(0, 16), past.AsSpan(0, 16), ones.AsSpan(0, 16))):F0} B, " +
            $"chunk 64 tokens {BytesPerRun(() => runner.Run(0, 1, 64, ids.AsSpan(0, 64), [0], [64])):F0} B");

        var (mx, my) = (lengths.Average(), chunkMs.Average());
        var slope = lengths.Zip(chunkMs).Sum(p => (p.First - mx) * (p.Second - my)) / lengths.Sum(x => (x - mx) * (x - mx));
        var fixedMs = my - (slope * mx);
        Console.WriteLine($"chunk Run ~ {fixedMs:F2} ms + {slope:F3} ms/token: a Run's fixed cost is worth {fixedMs / slope:F0} tokens");
        if (!runner.CanRunMixed)
        {
            Console.WriteLine("no mixed graph in this folder: separate vs mixed step not measured");
            return 0;
        }

        foreach (var (rows, chunk) in new[] { (16, 240), (16, 32), (8, 128) })
        {
            // The chunk goes to slot 15 (outside the decode rows 0..rows-1 when rows < 16; with 16 rows, slot
            // 15 is both, so those use a 15-row decode range plus the chunk's slot).
            var decodeRows = Math.Min(rows, 15);
            var separate = new List<double>();
            var mixed = new List<double>();
            for (var i = 0; i <= rounds; i++)
            {
                var clock = Stopwatch.StartNew();
                runner.Run(0, decodeRows, 1, ids.AsSpan(0, decodeRows), past.AsSpan(0, decodeRows), ones.AsSpan(0, decodeRows));
                runner.Run(15, 1, chunk, ids.AsSpan(0, chunk), [256], [chunk]);
                var a = clock.Elapsed.TotalMilliseconds;
                clock.Restart();
                runner.RunMixed(0, decodeRows, ids.AsSpan(0, decodeRows), past.AsSpan(0, decodeRows), 15, ids.AsSpan(0, chunk), 256);
                var b = clock.Elapsed.TotalMilliseconds;
                if (i > 0)
                {
                    separate.Add(a);
                    mixed.Add(b);
                }
            }

            var (sep, mix) = (BenchStats.Median(separate), BenchStats.Median(mixed));
            Console.WriteLine($"step of {decodeRows} decodes + a {chunk}-token chunk: separate Runs {sep,7:F2} ms, one mixed Run {mix,7:F2} ms ({(sep - mix) / sep:P0} less)");
        }

        return 0;
    }
}
