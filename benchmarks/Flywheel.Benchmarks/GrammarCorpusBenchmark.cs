using System.Diagnostics;
using System.Text;
using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// The real-world schema corpus (<c>benchmarks/Flywheel.Benchmarks/corpus</c>: function-calling
/// parameters, structured-output answers, configuration files, API payloads, written the way users
/// write them): what share compiles into a grammar and yields valid documents, which keywords the
/// rest are refused for, and the cost of what compiles. For each schema that compiles (grammar and
/// validator both), a document is generated with a seeded random choice among the allowed tokens of
/// the Llama-3 vocabulary under a token budget (the budget-aware mask closes it), timing every mask
/// on a cold cache; the document must then pass the validator. A generated document the validator
/// rejects is a soundness bug and is printed as such.
/// </summary>
internal sealed class GrammarCorpusBenchmark : IBenchmark
{
    private const int TokenBudget = 160;
    private const int CompileRepeats = 5;

    public string Name => "grammar-corpus";

    public string Description => "real-world JSON Schema corpus: share compiled and passing, refusals by keyword, cold mask and compile times";

    public int Run(string[] args)
    {
        var dir = args.Length > 0 ? args[0] : FindCorpus();
        var files = Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal).ToList();
        var (vocab, source) = GrammarBenchmark.LoadVocabulary();
        Console.WriteLine($"corpus: {files.Count} schemas in {dir}; vocabulary: {vocab.Count} tokens ({source}); budget {TokenBudget} tokens");
        var refusedBy = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        var masks = new List<double>();
        var compiles = new List<double>();
        var (passing, invalid) = (0, 0);
        foreach (var file in files)
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var schema = File.ReadAllText(file);
            JsonSchemaGrammar grammar;
            JsonSchemaValidator validator;
            try
            {
                grammar = JsonSchemaGrammar.Compile(schema);
                validator = JsonSchemaValidator.Create(schema);
            }
            catch (SchemaCompileException e)
            {
                (refusedBy.TryGetValue(e.Keyword, out var list) ? list : refusedBy[e.Keyword] = []).Add(name);
                Console.WriteLine($"  {name,-26} refused: {e.Keyword} at {e.Pointer}");
                continue;
            }

            var compileMs = BenchStats.Median(Enumerable.Range(0, CompileRepeats).Select(_ => JsonSchemaGrammar.Compile(schema).CompileMilliseconds).Prepend(grammar.CompileMilliseconds));
            compiles.Add(compileMs);
            var (text, times) = Generate(grammar, vocab, new Random(name.GetHashCode(StringComparison.Ordinal) & 0x7fff));
            masks.AddRange(times);
            var errors = validator.Validate(text);
            if (errors.Count == 0)
            {
                passing++;
            }
            else
            {
                invalid++;
                Console.WriteLine($"  {name,-26} INVALID DOCUMENT ({errors[0]}): {text}");
                continue;
            }

            Console.WriteLine($"  {name,-26} ok: {grammar.StateCount,6} states, compile {compileMs,7:F2} ms, {times.Count,4} tokens, cold mask mean {times.Average(),7:F1} us");
        }

        Console.WriteLine();
        Console.WriteLine($"compiled and passing: {passing}/{files.Count} ({100.0 * passing / files.Count:F0}%); generated but invalid: {invalid}");
        foreach (var (keyword, names) in refusedBy.OrderByDescending(p => p.Value.Count))
        {
            Console.WriteLine($"  refused for {keyword,-22} {names.Count,3}: {string.Join(", ", names)}");
        }

        if (masks.Count > 0)
        {
            masks.Sort();
            Console.WriteLine($"cold mask: mean {masks.Average():F1} us, p99 {masks[(int)(masks.Count * 0.99)]:F1} us, max {masks[^1]:F0} us over {masks.Count} masks");
            Console.WriteLine($"compile: median {BenchStats.Median(compiles):F2} ms, max {compiles.Max():F2} ms over {compiles.Count} schemas");
        }

        return invalid == 0 ? 0 : 1;
    }

    /// <summary>A random document the grammar allows, and the time of each mask (cold: a new grammar's caches).</summary>
    private static (string Text, List<double> MaskMicroseconds) Generate(JsonSchemaGrammar grammar, TokenVocabulary vocab, Random rng)
    {
        var m = new GrammarMatcher(grammar, vocab, TokenBudget);
        var mask = new uint[m.MaskLength];
        var times = new List<double>();
        var bytes = new List<byte>();
        var allowed = new List<int>();
        while (!m.IsTerminated)
        {
            var start = Stopwatch.GetTimestamp();
            m.ComputeMask(mask);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            allowed.Clear();
            for (var w = 0; w < mask.Length; w++)
            {
                for (var bits = mask[w]; bits != 0; bits &= bits - 1)
                {
                    allowed.Add((w << 5) | System.Numerics.BitOperations.TrailingZeroCount(bits));
                }
            }

            if (allowed.Count == 0)
            {
                break;
            }

            // Half the time prefer ending when the grammar allows it, so documents stay short.
            var eos = allowed.FirstOrDefault(vocab.IsEos, -1);
            var token = eos >= 0 && rng.Next(2) == 0 ? eos : allowed[rng.Next(allowed.Count)];
            m.TryAccept(token);
            if (!vocab.IsEos(token))
            {
                bytes.AddRange(vocab.BytesOf(token).ToArray());
            }
        }

        return (Encoding.UTF8.GetString([.. bytes]), times);
    }

    private static string FindCorpus()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "benchmarks", "Flywheel.Benchmarks", "corpus");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("the schema corpus (benchmarks/Flywheel.Benchmarks/corpus); pass its folder as the first argument");
    }
}
