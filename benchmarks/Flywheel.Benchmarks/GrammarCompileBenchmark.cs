using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// Where a schema compile's time goes, on the real-world corpus (the schemas grammar-corpus times):
/// per schema, the median of several compiles of each phase (parse the JSON, check references and
/// read the schema, build the byte NFA, determinize and lay out the tables), the whole
/// <see cref="JsonSchemaGrammar.CompileMilliseconds"/> and the thread's CPU time for it, the bytes
/// one compile allocates (what its garbage collections are made of), the state count and a hash of
/// the compiled tables. The hash is what shows a change to the compiler kept every grammar the
/// same: two builds that print the same hashes compiled the same automata, state for state.
/// </summary>
internal sealed class GrammarCompileBenchmark : IBenchmark
{
    private const int DefaultRepeats = 9;

    public string Name => "grammar-compile";

    public string Description => "compile cost on the schema corpus: per-phase medians, whole-compile median, state counts and table hashes";

    public int Run(string[] args)
    {
        // Arguments: [corpus folder] [--only NAME-PART] [--repeats N] (a profiler wants one schema, many times).
        var (dir, only, repeats) = ((string?)null, "", DefaultRepeats);
        for (var a = 0; a < args.Length; a++)
        {
            if (args[a] == "--only")
            {
                only = args[++a];
            }
            else if (args[a] == "--repeats")
            {
                repeats = int.Parse(args[++a], System.Globalization.CultureInfo.InvariantCulture);
            }
            else
            {
                dir = args[a];
            }
        }

        dir ??= GrammarCorpusBenchmark.FindCorpus(); // only without a folder given: a build copied out has no corpus above it
        var files = Directory.GetFiles(dir, "*.json").Where(f => Path.GetFileName(f).Contains(only, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        Console.WriteLine($"corpus: {files.Count} schemas in {dir}; {repeats} compiles per schema (medians); load average {LoadAverage()}");
        Console.WriteLine($"  {"schema",-26} {"states",7} {"parse",7} {"read",7} {"nfa",7} {"dfa",7} {"total",7} {"whole",7} {"cpu",7} {"KB",8}  tables");
        var phases = new List<double>[5];
        for (var p = 0; p < phases.Length; p++)
        {
            phases[p] = [];
        }

        var wholes = new List<double>();
        var allocatedKb = new List<double>();
        var cpus = new List<double>();
        ulong corpusHash = Fnv.Offset;
        foreach (var file in files)
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var schema = File.ReadAllText(file);
            try
            {
                JsonSchemaGrammar.Compile(schema);
            }
            catch (SchemaCompileException)
            {
                continue;
            }

            var times = new double[5][];
            for (var p = 0; p < times.Length; p++)
            {
                times[p] = new double[repeats];
            }

            var whole = new double[repeats];
            var cpu = new double[repeats];
            CompiledGrammar? compiled = null;
            long allocated = 0;
            for (var i = 0; i < repeats; i++)
            {
                compiled = CompileInPhases(schema, times, i);
                var before = GC.GetAllocatedBytesForCurrentThread();
                var cpuBefore = ThreadCpuClock.NowMicroseconds() / 1e3;
                whole[i] = JsonSchemaGrammar.Compile(schema).CompileMilliseconds;
                cpu[i] = ThreadCpuClock.NowMicroseconds() / 1e3 - cpuBefore;
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }

            var hash = Hash(compiled!);
            corpusHash = Fnv.Add(corpusHash, hash);
            var medians = times.Select(t => BenchStats.Median(t)).ToArray();
            for (var p = 0; p < phases.Length; p++)
            {
                phases[p].Add(medians[p]);
            }

            wholes.Add(BenchStats.Median(whole));
            cpus.Add(BenchStats.Median(cpu));
            allocatedKb.Add(allocated / 1024.0);
            Console.WriteLine($"  {name,-26} {compiled!.StateCount,7} {medians[0],7:F3} {medians[1],7:F3} {medians[2],7:F3} {medians[3],7:F3} {medians[4],7:F3} {wholes[^1],7:F3} {cpus[^1],7:F3} {allocatedKb[^1],8:F0}  {hash:x16}");
        }

        Console.WriteLine();
        Console.WriteLine($"phase sums over {wholes.Count} schemas (ms): parse {phases[0].Sum():F2}, read {phases[1].Sum():F2}, nfa {phases[2].Sum():F2}, dfa {phases[3].Sum():F2}, total {phases[4].Sum():F2}");
        Console.WriteLine($"compile (CompileMilliseconds): median {BenchStats.Median(wholes):F3} ms, max {wholes.Max():F2} ms, sum {wholes.Sum():F1} ms over {wholes.Count} schemas; thread CPU: median {BenchStats.Median(cpus):F3} ms, sum {cpus.Sum():F1} ms; allocated: median {BenchStats.Median(allocatedKb):F0} KB, sum {allocatedKb.Sum() / 1024:F1} MB; corpus table hash {corpusHash:x16}");
        return 0;
    }

    /// <summary>One compile, the pipeline of <see cref="JsonSchemaGrammar.Compile(string, JsonSchemaCompileOptions?, CancellationToken)"/> with a clock between phases.</summary>
    private static CompiledGrammar CompileInPhases(string schema, double[][] times, int i)
    {
        var t0 = Stopwatch.GetTimestamp();
        using var doc = JsonDocument.Parse(schema);
        var t1 = Stopwatch.GetTimestamp();
        var anchors = SchemaReferences.EnsureLocal(doc.RootElement);
        var reader = new SchemaReader(doc.RootElement, anchors);
        var root = reader.Resolve("#", "#", requireBody: true)!;
        var t2 = Stopwatch.GetTimestamp();
        var options = new JsonSchemaCompileOptions();
        var builder = new GrammarBuilder(reader, options.MaxWhitespace, new CompileBudget(options.MaxStates, options.CompileTimeout, default));
        builder.BuildRoot(root);
        var t3 = Stopwatch.GetTimestamp();
        var compiled = GrammarCompiler.Compile(builder.Nfa, builder.Rules);
        var t4 = Stopwatch.GetTimestamp();
        times[0][i] = Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds;
        times[1][i] = Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds;
        times[2][i] = Stopwatch.GetElapsedTime(t2, t3).TotalMilliseconds;
        times[3][i] = Stopwatch.GetElapsedTime(t3, t4).TotalMilliseconds;
        times[4][i] = Stopwatch.GetElapsedTime(t0, t4).TotalMilliseconds;
        return compiled;
    }

    /// <summary>FNV-1a over every table of the grammar (deterministic across processes, unlike <see cref="HashCode"/>).</summary>
    private static ulong Hash(CompiledGrammar g)
    {
        var h = Fnv.Offset;
        h = Fnv.Add(h, (ulong)g.ClassCount);
        h = Fnv.Add(h, (ulong)g.RootStart);
        h = Fnv.Add(h, g.ClassOf);
        h = Fnv.Add(h, MemoryMarshal.AsBytes(g.Next.AsSpan()));
        h = Fnv.Add(h, g.Flags);
        h = Fnv.Add(h, MemoryMarshal.AsBytes(g.CallOffsets.AsSpan()));
        h = Fnv.Add(h, MemoryMarshal.AsBytes(g.CallStarts.AsSpan()));
        return Fnv.Add(h, MemoryMarshal.AsBytes(g.CallReturns.AsSpan()));
    }

    private static string LoadAverage()
    {
        const string path = "/proc/loadavg";
        return File.Exists(path) ? string.Join(' ', File.ReadAllText(path).Split(' ').Take(3)) : "n/a";
    }

    private static class Fnv
    {
        public const ulong Offset = 14695981039346656037UL;
        private const ulong Prime = 1099511628211UL;

        public static ulong Add(ulong h, ulong value)
        {
            for (var k = 0; k < 8; k++)
            {
                h = (h ^ ((value >> (8 * k)) & 0xFF)) * Prime;
            }

            return h;
        }

        public static ulong Add(ulong h, ReadOnlySpan<byte> bytes)
        {
            h = Add(h, (ulong)bytes.Length);
            foreach (var b in bytes)
            {
                h = (h ^ b) * Prime;
            }

            return h;
        }
    }
}
