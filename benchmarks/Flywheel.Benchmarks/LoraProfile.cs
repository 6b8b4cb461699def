using System.Globalization;
using System.Text.Json;
using Flywheel.Adapters;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Onnx;

namespace Flywheel.Benchmarks;

/// <summary>
/// Where a Run's time goes, per operator, from ONNX Runtime's own profiler: a decode Run of N rows and a prompt
/// chunk Run (one row of T tokens) on the plain graph and on the LoRA graph with every adapter loaded and the
/// rows spread over them. Each configuration gets its own profiled session; node kernel times (the
/// profiler's "_kernel_time" events, subgraph nodes included) are summed over the timed Runs and printed per
/// operator type, split into the LoRA nodes (names under ".../lora/") and the rest.
/// </summary>
internal static class LoraProfile
{
    public static void Print(string plainDir, string loraDir, List<PeftAdapter> adapters, int rank, int decodeRows, int chunkTokens, int repeats)
    {
        foreach (var (what, rows, tokens) in new[] { ($"decode Run, {decodeRows} rows", decodeRows, 1), ($"chunk Run, 1 row of {chunkTokens} tokens", 1, chunkTokens) })
        {
            var plain = Profile(plainDir, null, rank, rows, tokens, repeats);
            var lora = Profile(loraDir, adapters, rank, rows, tokens, repeats);
            Console.WriteLine($"\n{what}: kernel ms per Run (ORT profiler, {repeats} Runs)");
            Console.WriteLine($"{"operator",-28} {"plain graph",12} {"LoRA graph",12} {"of it LoRA nodes",17}");
            foreach (var op in plain.Keys.Union(lora.Keys).OrderByDescending(k => lora.GetValueOrDefault(k).Total))
            {
                var (p, l) = (plain.GetValueOrDefault(op), lora.GetValueOrDefault(op));
                Console.WriteLine($"{op,-28} {p.Total / repeats,12:F3} {l.Total / repeats,12:F3} {l.Lora / repeats,17:F3}");
            }

            // An If's kernel time encloses its branch's nodes, which are counted on their own.
            double Sum(Dictionary<string, (double Total, double Lora)> t, bool loraOnly) => t.Where(kv => kv.Key != "If").Sum(kv => loraOnly ? kv.Value.Lora : kv.Value.Total) / repeats;
            Console.WriteLine($"{"total (If excluded)",-28} {Sum(plain, false),12:F3} {Sum(lora, false),12:F3} {Sum(lora, true),17:F3}");
        }
    }

    /// <summary>Kernel milliseconds per operator type (total, and in LoRA nodes) over <paramref name="repeats"/> profiled Runs.</summary>
    private static Dictionary<string, (double Total, double Lora)> Profile(string dir, List<PeftAdapter>? adapters, int rank, int rows, int tokens, int repeats)
    {
        using var options = OnnxEnvironment.CreateSessionOptions();
        options.EnableProfiling = true;
        options.ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "flywheel-lora-profile");
        using var folder = ModelFolder.Open(dir, options, loadMixed: false);
        var d = folder.Config.Decoder;
        using var cache = new KvCache(d.NumHiddenLayers, rows, d.NumKeyValueHeads, 256, d.HeadSize);
        using var slots = adapters is null ? null : AdapterSlots.ForSession(folder.Session, d.NumHiddenLayers, adapters.Count + 1, rank);
        for (var i = 0; slots is not null && i < adapters!.Count; i++)
        {
            slots.Write(i + 1, adapters[i]);
        }

        using var runner = new DecoderRunner(folder.Session, folder.Config, cache, rows * tokens, adapters: slots);
        var ids = new long[rows * tokens];
        var past = Enumerable.Repeat(tokens == 1 ? 128 : 0, rows).ToArray();
        var valid = Enumerable.Repeat(tokens, rows).ToArray();

        // Decode rows spread over every adapter and the base; the chunk on the last adapter.
        var rowSlots = adapters is null ? [] : Enumerable.Range(0, rows).Select(r => tokens == 1 ? r % (adapters.Count + 1) : adapters.Count).ToArray();
        for (var i = 0; i < repeats + 2; i++)
        {
            runner.Run(0, rows, tokens, ids, past, valid, rowSlots);
        }

        var file = folder.Session.EndProfiling();
        var result = new Dictionary<string, (double Total, double Lora)>();
        using (var json = JsonDocument.Parse(File.ReadAllText(file)))
        {
            // Skip the two warm-up Runs: the first kernel events of each node belong to them.
            var seen = new Dictionary<string, int>();
            foreach (var e in json.RootElement.EnumerateArray())
            {
                var name = e.GetProperty("name").GetString()!;
                if (e.GetProperty("cat").GetString() != "Node" || !name.EndsWith("_kernel_time", StringComparison.Ordinal))
                {
                    continue;
                }

                var count = seen[name] = seen.GetValueOrDefault(name) + 1;
                if (count <= 2)
                {
                    continue;
                }

                var op = e.GetProperty("args").GetProperty("op_name").GetString()!;
                var ms = e.GetProperty("dur").GetDouble() / 1000;
                var isLora = name.Contains("/lora/", StringComparison.Ordinal);
                var (total, lora) = result.GetValueOrDefault(op);
                result[op] = (total + ms, lora + (isLora ? ms : 0));
            }
        }

        File.Delete(file);
        return result;
    }

    /// <summary>Parses "--profile rows,tokens" (e.g. 22,64).</summary>
    public static (int Rows, int Tokens) ParseShape(string value)
    {
        var parts = value.Split(',');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }
}
