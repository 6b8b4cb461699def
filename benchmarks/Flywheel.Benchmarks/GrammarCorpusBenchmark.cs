using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// The real-world schema corpus (<c>benchmarks/Flywheel.Benchmarks/corpus</c>: function-calling
/// parameters, structured-output answers, configuration files, API payloads, written the way users
/// write them): what share compiles into a grammar and yields valid documents, which keywords the
/// rest are refused for, and the cost of what compiles. For each schema that compiles (grammar and
/// validator both), documents are generated under a token budget (the budget-aware mask closes them)
/// with two seeded token policies over the Llama-3 vocabulary (<see cref="GrammarCorpusWalk"/>: a
/// uniformly random allowed token, the stress measure, and a frequent-token walk closer to a
/// model's answers), timing every mask on a cold cache and reporting where the time goes
/// (<see cref="GrammarCorpusReport"/>); every document must then pass the validator. A generated
/// document the validator rejects is a soundness bug and is printed as such.
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
        var loading = System.Diagnostics.Stopwatch.StartNew();
        var (vocab, source) = GrammarBenchmark.LoadVocabulary();
        Console.WriteLine($"corpus: {files.Count} schemas in {dir}; vocabulary: {vocab.Count} tokens ({source}, loaded in {loading.ElapsedMilliseconds} ms "
            + $"with its region and mask-path warm-up, as a server does at startup); budget {TokenBudget} tokens");
        var refusedBy = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        var masks = new List<MaskSample>();
        var plain = new List<MaskSample>();
        var (randomHash, frequentHash) = (14695981039346656037UL, 14695981039346656037UL);
        var compiles = new List<double>();
        var compiled = new List<(string Name, string Schema, JsonSchemaValidator Validator)>();
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

            var compileMs = BenchStats.Median(Enumerable.Range(0, CompileRepeats).Select(_ => CompileAgain(schema).CompileMilliseconds).Prepend(grammar.CompileMilliseconds));
            compiles.Add(compileMs);
            var (text, times, hash) = GrammarCorpusWalk.Generate(name, grammar, vocab, TokenBudget, GrammarCorpusWalk.Policy.Random, new Random(Seed(name)));
            masks.AddRange(times);
            randomHash = (randomHash ^ hash) * 1099511628211UL;
            compiled.Add((name, schema, validator));
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

            Console.WriteLine($"  {name,-26} ok: {grammar.StateCount,6} states, compile {compileMs,7:F2} ms, {times.Count,4} tokens, cold mask mean {times.Average(s => s.Microseconds),7:F1} us");
        }

        // The frequent-token walks after all the random ones (each on a new grammar, so cold too), so
        // the random walks see the shared region cache as they would alone.
        var (plainTokens, plainInvalid) = (0, 0);
        foreach (var (name, schema, validator) in compiled)
        {
            var (text, times, hash) = GrammarCorpusWalk.Generate(name, CompileAgain(schema), vocab, TokenBudget, GrammarCorpusWalk.Policy.Frequent, new Random(Seed(name)));
            plain.AddRange(times);
            frequentHash = (frequentHash ^ hash) * 1099511628211UL;
            plainTokens += times.Count;
            if (validator.Validate(text) is { Count: > 0 } errors)
            {
                plainInvalid++;
                Console.WriteLine($"  {name,-26} INVALID DOCUMENT of the frequent-token walk ({errors[0]}): {text}");
            }
        }

        invalid += plainInvalid;
        Console.WriteLine($"frequent-token walk: {compiled.Count} documents, {plainTokens} tokens, {plainInvalid} invalid; e.g. {compiled.FirstOrDefault().Name}: "
            + (compiled.Count == 0 ? "" : GrammarCorpusWalk.Generate(compiled[0].Name, CompileAgain(compiled[0].Schema), vocab, TokenBudget, GrammarCorpusWalk.Policy.Frequent, new Random(Seed(compiled[0].Name))).Text));
        Console.WriteLine();
        Console.WriteLine($"compiled and passing: {passing}/{files.Count} ({100.0 * passing / files.Count:F0}%); generated but invalid: {invalid}");
        foreach (var (keyword, names) in refusedBy.OrderByDescending(p => p.Value.Count))
        {
            Console.WriteLine($"  refused for {keyword,-22} {names.Count,3}: {string.Join(", ", names)}");
        }

        if (masks.Count > 0)
        {
            Console.WriteLine($"compile: median {BenchStats.Median(compiles):F2} ms, max {compiles.Max():F2} ms over {compiles.Count} schemas");
            Console.WriteLine();
            GrammarCorpusReport.Print("random walk (stress)", masks, randomHash);
            Console.WriteLine();
            GrammarCorpusReport.Print("frequent-token walk (closer to a model's answers)", plain, frequentHash);
        }

        return invalid == 0 ? 0 : 1;
    }

    /// <summary>A seed from the schema's name that is the same in every process (string hash codes are not).</summary>
    private static int Seed(string name)
    {
        var h = 2166136261u;
        foreach (var c in name)
        {
            h = (h ^ c) * 16777619u;
        }

        return (int)(h & 0x7fffffff);
    }

    /// <summary>The corpus folder, found upward from the benchmark's own folder.</summary>
    internal static string FindCorpus()
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

    /// <summary>
    /// A fresh compile (cold mask cache) of a schema that compiled once. The compile's wall-clock budget can
    /// refuse it on a busy machine, so such a refusal is retried a few times before it ends the benchmark.
    /// </summary>
    private static JsonSchemaGrammar CompileAgain(string schema)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return JsonSchemaGrammar.Compile(schema);
            }
            catch (SchemaCompileException e) when (e.DependsOnLoad && attempt < 4)
            {
                Console.Error.WriteLine($"  (compile over its time budget, attempt {attempt} of 4: the machine is busy; timings are disturbed)");
            }
        }
    }
}
