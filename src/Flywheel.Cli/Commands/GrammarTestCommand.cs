using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Structured;

namespace Flywheel.Cli;

/// <summary>
/// <c>flywheel grammar test</c>: runs JSON-Schema-Test-Suite style cases through the schema grammar
/// and a real tokenizer (see <see cref="GrammarSuiteRunner"/>), writes one JSON line per schema and
/// prints a summary: how many schemas compiled and passed, valid instances rejected, invalid
/// instances accepted (soundness bugs), and mask and compile times.
/// </summary>
internal static class GrammarTestCommand
{
    public static readonly CliApp.Command Definition = new(
        "grammar",
        "grammar test: run JSON-Schema test cases through the grammar and a tokenizer",
        """
        usage: flywheel grammar test --tokenizer FILE --cases PATH [--out FILE] [--passes N] [--warmup]
          --tokenizer FILE  tokenizer.json (its tokenizer_config.json, if beside it, names the eos token)
          --cases PATH      a case file, or a folder searched recursively for *.json; each file holds
                            {"schema": ..., "tests": [{"data": ..., "valid": bool}]} or an array of
                            {"description", "schema", "tests"} (the JSON-Schema-Test-Suite layout)
          --out FILE        write the JSON lines (one per schema) there; default stdout
          --passes N        feed each schema's instances N times (default 1); masks of passes 2..N
                            (warm mask cache) are summarised apart from the first pass (cold cache)
          --warmup          run all cases once untimed first, so times exclude JIT compilation
        The summary goes to stdout with --out, else to stderr.
        """,
        Run);

    private static readonly JsonSerializerOptions LineOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static int Run(CliApp.CommandArgsInput input)
    {
        if (input.Args.Length == 0 || input.Args[0] != "test")
        {
            throw new UsageException(input.Args.Length == 0 ? "missing subcommand 'test'" : $"unknown subcommand '{input.Args[0]}'");
        }

        var args = CommandArgs.Parse(input.Args[1..], "warmup");
        var tokenizerPath = args.Required("tokenizer");
        var casesPath = args.Required("cases");
        var outPath = args.String("out");
        var passes = args.Int("passes", 1, 1000) ?? 1;
        var warmup = args.Flag("warmup");
        args.EnsureAllUsed();
        if (!File.Exists(tokenizerPath))
        {
            throw new CliException($"tokenizer file not found: {tokenizerPath}");
        }

        var cases = LoadCases(casesPath);
        var tokenizer = ModelLoading.LoadTokenizer(tokenizerPath);
        var vocabulary = TokenVocabulary.FromTokenizer(tokenizer, tokenizer.EosTokenIds);
        if (warmup)
        {
            // Its own vocabulary: the warm-up is for the JIT only and must not fill the timed
            // run's vocabulary-wide region cache with walks of these very schemas.
            var untimed = new GrammarSuiteRunner(tokenizer, TokenVocabulary.FromTokenizer(tokenizer, tokenizer.EosTokenIds));
            cases.ForEach(c => untimed.Run(c));
        }

        var runner = new GrammarSuiteRunner(tokenizer, vocabulary);
        var results = new List<GrammarSuiteResult>(cases.Count);
        using (var lines = outPath is null ? null : OpenOut(outPath))
        {
            var writer = lines ?? input.Out;
            foreach (var suiteCase in cases)
            {
                var result = runner.Run(suiteCase, passes);
                results.Add(result);
                writer.WriteLine(Line(result).ToJsonString(LineOptions));
            }
        }

        var summary = GrammarSuiteSummary.From(results, runner.MaskMicroseconds, runner.WarmMaskMicroseconds);
        PrintSummary(summary, tokenizer.EosTokenIds.Count, outPath is null ? input.Error : input.Out);
        return 0;
    }

    /// <summary>Every case under <paramref name="path"/>, files in ordinal order, each named relative to <paramref name="path"/>.</summary>
    private static List<GrammarSuiteCase> LoadCases(string path)
    {
        string[] files;
        string root;
        if (Directory.Exists(path))
        {
            root = path;
            files = [.. Directory.EnumerateFiles(path, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal)];
            if (files.Length == 0)
            {
                throw new CliException($"no .json case files under {path}");
            }
        }
        else if (File.Exists(path))
        {
            root = Path.GetDirectoryName(Path.GetFullPath(path))!;
            files = [path];
        }
        else
        {
            throw new CliException($"cases not found: {path}");
        }

        var cases = new List<GrammarSuiteCase>();
        foreach (var file in files)
        {
            var name = Path.GetRelativePath(root, file).Replace('\\', '/');
            string text;
            try
            {
                text = File.ReadAllText(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"cannot read case file {file}: {e.Message}", e);
            }

            cases.AddRange(GrammarSuiteCase.Parse(name, text)); // InvalidDataException: exit 1 with its message
        }

        return cases;
    }

    private static StreamWriter OpenOut(string path)
    {
        try
        {
            return new StreamWriter(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"cannot write {path}: {e.Message}", e);
        }
    }

    private static JsonObject Line(GrammarSuiteResult r)
    {
        var line = new JsonObject
        {
            ["file"] = r.Case.File,
            ["description"] = r.Case.Description,
            ["status"] = r.Status.ToString().ToLowerInvariant(),
        };
        if (r.Message is not null)
        {
            line["message"] = r.Message;
        }

        line["compile_us"] = Math.Round(r.CompileMicroseconds, 1);
        line["tests"] = new JsonArray([.. r.Tests.Select(t => new JsonObject
        {
            ["description"] = t.Description,
            ["accepted"] = t.Accepted,
            ["expected"] = t.Expected,
        })]);
        return line;
    }

    private static void PrintSummary(GrammarSuiteSummary s, int eosCount, TextWriter w)
    {
        var c = CultureInfo.InvariantCulture;
        w.WriteLine(string.Create(c, $"schemas: {s.SchemaCount} (compiled {s.CompiledCount}, unsupported {s.UnsupportedCount}, error {s.ErrorCount})"));
        w.WriteLine(string.Create(c, $"schemas passing: {s.PassingCount} of {s.CompiledCount} compiled (every instance classified as expected)"));
        w.WriteLine(string.Create(c, $"valid instances rejected: {s.ValidRejectedCount} of {s.ValidCount}"));
        w.WriteLine(string.Create(c, $"invalid instances accepted: {s.InvalidAcceptedCount} of {s.InvalidCount}"));
        w.WriteLine(string.Create(c, $"mask us (first pass, cold cache): mean {s.MaskMeanMicroseconds:F1} p50 {s.MaskP50Microseconds:F1} p99 {s.MaskP99Microseconds:F1} ({s.MaskCount} masks)"));
        if (s.WarmMaskCount > 0)
        {
            w.WriteLine(string.Create(c, $"warm mask us: mean {s.WarmMaskMeanMicroseconds:F1} p50 {s.WarmMaskP50Microseconds:F1} p99 {s.WarmMaskP99Microseconds:F1} ({s.WarmMaskCount} masks)"));
        }

        w.WriteLine(string.Create(c, $"compile ms: median {s.CompileMedianMicroseconds / 1000:F3}"));
        if (eosCount == 0)
        {
            w.WriteLine("note: the tokenizer names no eos token; completeness was checked with IsComplete only");
        }
    }
}
