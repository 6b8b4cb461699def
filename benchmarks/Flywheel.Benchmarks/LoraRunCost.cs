using System.Diagnostics;
using Flywheel.Adapters;
using Flywheel.Execution;
using Flywheel.Models;

namespace Flywheel.Benchmarks;

/// <summary>
/// One decode Run's time on the plain and the LoRA-capable graphs, measured directly on the runner (no
/// scheduler): the LoRA graph with every adapter loaded and every row on the base, then with rows spread
/// over every adapter and the base, and with only two adapters loaded and rows spread over those two and the
/// base (the bound slots follow the highest loaded slot). Runs interleave, each timed after an untimed
/// Run of the same configuration; the minimum is the least disturbed by other load on the machine.
/// </summary>
internal static class LoraRunCost
{
    public static void Print(ModelFolder plain, ModelFolder lora, List<PeftAdapter> adapters, int rank, int[] rowCounts, int repeats)
    {
        var c = lora.Config;
        var d = c.Decoder;
        var maxRows = rowCounts.Max();
        using var plainCache = new KvCache(d.NumHiddenLayers, maxRows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var loraCache = new KvCache(d.NumHiddenLayers, maxRows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var fewCache = new KvCache(d.NumHiddenLayers, maxRows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var slots = AdapterSlots.ForSession(lora.Session, d.NumHiddenLayers, adapters.Count + 1, rank)!;
        using var fewSlots = AdapterSlots.ForSession(lora.Session, d.NumHiddenLayers, adapters.Count + 1, rank)!;
        for (var i = 0; i < adapters.Count; i++)
        {
            slots.Write(i + 1, adapters[i]);
        }

        const int Few = 2;
        for (var i = 0; i < Few; i++)
        {
            fewSlots.Write(i + 1, adapters[i]);
        }

        using var plainRunner = new DecoderRunner(plain.Session, plain.Config, plainCache, maxRows);
        using var loraRunner = new DecoderRunner(lora.Session, c, loraCache, maxRows, adapters: slots);
        using var fewRunner = new DecoderRunner(lora.Session, c, fewCache, maxRows, adapters: fewSlots);
        Console.WriteLine($"\none decode Run (past 128 tokens per row), ms: min / median of {repeats}");
        Console.WriteLine($"{"rows",5} {"plain graph",16} {"LoRA: base",16} {$"spread over {adapters.Count}",16} {$"spread over {Few}",16}");
        foreach (var rows in rowCounts)
        {
            var ids = new long[rows];
            var past = Enumerable.Repeat(128, rows).ToArray();
            var valid = Enumerable.Repeat(1, rows).ToArray();
            var baseSlots = new int[rows];
            var spread = Enumerable.Range(0, rows).Select(r => r % (adapters.Count + 1)).ToArray();
            var spreadFew = Enumerable.Range(0, rows).Select(r => r % (Few + 1)).ToArray();
            var times = new List<double>[4];
            for (var k = 0; k < times.Length; k++)
            {
                times[k] = [];
            }

            for (var i = 0; i < repeats + 2; i++)
            {
                var a = Time(() => plainRunner.Run(0, rows, 1, ids, past, valid));
                var b = Time(() => loraRunner.Run(0, rows, 1, ids, past, valid, baseSlots));
                var s = Time(() => loraRunner.Run(0, rows, 1, ids, past, valid, spread));
                var f = Time(() => fewRunner.Run(0, rows, 1, ids, past, valid, spreadFew));
                if (i >= 2) // the first Runs of a shape warm up
                {
                    times[0].Add(a);
                    times[1].Add(b);
                    times[2].Add(s);
                    times[3].Add(f);
                }
            }

            string Cell(List<double> t) => $"{t.Min():F2} / {BenchStats.Median(t):F2}";
            Console.WriteLine($"{rows,5} {Cell(times[0]),16} {Cell(times[1]),16} {Cell(times[2]),16} {Cell(times[3]),16}");
        }
    }

    /// <summary>
    /// Decode and prompt-chunk Runs, rows spread over every adapter, on the plain graph, this LoRA graph and
    /// <paramref name="other"/> (another build's LoRA folder, e.g. an earlier form of the graph), interleaved in
    /// one process so that load from other work falls on all three alike: a before/after of the graph itself.
    /// </summary>
    public static void Compare(ModelFolder plain, ModelFolder lora, ModelFolder other, List<PeftAdapter> adapters, int rank, (int Rows, int Tokens)[] shapes, int repeats)
    {
        var d = lora.Config.Decoder;
        const int MaxRows = 22, MaxTokens = 128;
        using var plainCache = new KvCache(d.NumHiddenLayers, MaxRows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var loraCache = new KvCache(d.NumHiddenLayers, MaxRows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var otherCache = new KvCache(d.NumHiddenLayers, MaxRows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var slots = AdapterSlots.ForSession(lora.Session, d.NumHiddenLayers, adapters.Count + 1, rank)!;
        using var otherSlots = AdapterSlots.ForSession(other.Session, d.NumHiddenLayers, adapters.Count + 1, rank)!;
        for (var i = 0; i < adapters.Count; i++)
        {
            slots.Write(i + 1, adapters[i]);
            otherSlots.Write(i + 1, adapters[i]);
        }

        using var plainRunner = new DecoderRunner(plain.Session, plain.Config, plainCache, MaxRows * MaxTokens);
        using var loraRunner = new DecoderRunner(lora.Session, lora.Config, loraCache, MaxRows * MaxTokens, adapters: slots);
        using var otherRunner = new DecoderRunner(other.Session, other.Config, otherCache, MaxRows * MaxTokens, adapters: otherSlots);
        Console.WriteLine($"\nRuns with rows spread over {adapters.Count} adapters and the base, ms: min / median of {repeats} (other LoRA graph: {other.Directory})");
        Console.WriteLine($"{"rows x tokens",14} {"plain graph",16} {"this LoRA graph",16} {"other LoRA graph",16} {"this / other (min)",19}");
        foreach (var (rows, tokens) in shapes)
        {
            var ids = new long[rows * tokens];
            var past = Enumerable.Repeat(tokens == 1 ? 128 : 0, rows).ToArray();
            var valid = Enumerable.Repeat(tokens, rows).ToArray();
            var spread = Enumerable.Range(0, rows).Select(r => (r + (tokens == 1 ? 0 : 1)) % (adapters.Count + 1)).ToArray();
            var times = new[] { new List<double>(), new List<double>(), new List<double>() };
            for (var i = 0; i < repeats + 2; i++)
            {
                var a = Time(() => plainRunner.Run(0, rows, tokens, ids, past, valid));
                var b = Time(() => loraRunner.Run(0, rows, tokens, ids, past, valid, spread));
                var c = Time(() => otherRunner.Run(0, rows, tokens, ids, past, valid, spread));
                if (i >= 2)
                {
                    times[0].Add(a);
                    times[1].Add(b);
                    times[2].Add(c);
                }
            }

            string Cell(List<double> t) => $"{t.Min():F2} / {BenchStats.Median(t):F2}";
            Console.WriteLine($"{$"{rows} x {tokens}",14} {Cell(times[0]),16} {Cell(times[1]),16} {Cell(times[2]),16} {times[1].Min() / times[2].Min(),19:F3}");
        }
    }

    private static double Time(Action run)
    {
        // One untimed Run first: each session has its own thread pool, and the first Run on a session after
        // another session ran waits for its descheduled workers, which would favour whichever configuration
        // follows another on the same session.
        run();
        var clock = Stopwatch.StartNew();
        run();
        return clock.Elapsed.TotalMilliseconds;
    }
}
