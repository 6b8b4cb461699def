using System.Diagnostics;
using System.Text;
using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// Compile cost of hostile schemas (issue 13, item 2): for each one, the wall time of
/// <see cref="JsonSchemaGrammar.Compile(string, JsonSchemaCompileOptions?, CancellationToken)"/>, the outcome (states, or
/// the refusal's message), the process CPU time it took (steadier than wall time on a busy host) and
/// the peak managed heap above the baseline, sampled every millisecond while the compile runs. Each
/// case runs three times; the best times and the highest peak are printed. Arguments: names of the
/// cases to run (default: all).
/// </summary>
internal sealed class SchemaAbuseBenchmark : IBenchmark
{
    public string Name => "schema-abuse";

    public string Description => "compile time and peak managed memory of hostile JSON Schemas";

    /// <summary>The schemas of the issue, by name.</summary>
    internal static IReadOnlyList<(string Name, string Schema)> Cases { get; } =
    [
        ("pattern-.{1000}", """{"type":"string","pattern":".{1000}"}"""),
        ("two-patterns-.{999}", """{"type":"object","properties":{"a":{"type":"string","pattern":".{999}"},"b":{"type":"string","pattern":".{998}"}}}"""),
        ("properties-2000", Properties(2000)),
        ("allOf-200x10", AllOf(200, 10)),
        ("recursive-tree", """{"$defs":{"node":{"type":"object","properties":{"label":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["label"]}},"$ref":"#/$defs/node"}"""),
        ("enum-10000", Enum(10_000)),
        ("pattern-10000-chars", PatternOfLength(10_000)),
    ];

    public int Run(string[] args)
    {
        Console.WriteLine($"{"schema",-22} {"bytes",8} {"wall ms",9} {"cpu ms",9} {"peak MB",8}  outcome");
        foreach (var (name, schema) in Cases.Where(c => args.Length == 0 || args.Contains(c.Name)))
        {
            var runs = Enumerable.Range(0, 3).Select(_ => Measure(schema)).ToList();
            Console.WriteLine($"{name,-22} {schema.Length,8} {runs.Min(r => r.Ms),9:F1} {runs.Min(r => r.CpuMs),9:F1} " +
                $"{runs.Max(r => r.PeakBytes) / 1e6,8:F1}  {runs[0].Outcome}");
        }

        return 0;
    }

    private static (double Ms, double CpuMs, long PeakBytes, string Outcome) Measure(string schema)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var baseline = GC.GetTotalMemory(forceFullCollection: false);
        var peak = baseline;
        using var done = new ManualResetEventSlim();
        var sampler = new Thread(() =>
        {
            while (!done.Wait(1))
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
            }
        })
        { IsBackground = true };
        sampler.Start();
        var cpuStarted = Process.GetCurrentProcess().TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        string outcome;
        try
        {
            var grammar = JsonSchemaGrammar.Compile(schema);
            outcome = $"compiled, {grammar.StateCount} states";
        }
        catch (SchemaCompileException e)
        {
            outcome = $"refused: {e.Message}";
        }

        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpuStarted).TotalMilliseconds;
        peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
        done.Set();
        sampler.Join();
        return (ms, cpuMs, peak - baseline, outcome);
    }

    private static string Properties(int count)
    {
        var sb = new StringBuilder("""{"type":"object","properties":{""");
        for (var i = 0; i < count; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append($$"""
                "p{{i}}":{"type":"string"}
                """);
        }

        return sb.Append("}}").ToString();
    }

    private static string AllOf(int objects, int propertiesEach)
    {
        var parts = Enumerable.Range(0, objects).Select(o =>
            "{\"type\":\"object\",\"properties\":{" +
            string.Join(',', Enumerable.Range(0, propertiesEach).Select(p => $"\"o{o}p{p}\":{{\"type\":\"string\"}}")) + "}}");
        return "{\"allOf\":[" + string.Join(',', parts) + "]}";
    }

    private static string Enum(int count) =>
        "{\"enum\":[" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"value-{i}\"")) + "]}";

    private static string PatternOfLength(int length)
    {
        // A long anchored literal with character classes sprinkled in, padded to the exact length.
        var sb = new StringBuilder("^");
        while (sb.Length + 8 < length - 1)
        {
            sb.Append("ab[0-9]c");
        }

        sb.Append('x', length - 1 - sb.Length);
        return "{\"type\":\"string\",\"pattern\":\"" + sb.Append('$') + "\"}";
    }
}
