using System.Text.Json;
using Flywheel.Tokenization;
using static Flywheel.Cli.Tests.CliRunner;

namespace Flywheel.Cli.Tests;

/// <summary><c>flywheel grammar test</c> on a small cases folder (both file layouts) and a synthetic byte-level tokenizer.</summary>
public sealed class GrammarTestCommandTests : IDisposable
{
    private readonly string _dir = TestScratch.Path("grammar-" + Guid.NewGuid().ToString("N"));

    public GrammarTestCommandTests()
    {
        SyntheticTokenizer.Write(Path.Combine(_dir, "tok"), 600);
        var cases = Path.Combine(_dir, "cases");
        Directory.CreateDirectory(Path.Combine(cases, "sub"));
        File.WriteAllText(Path.Combine(cases, "single.json"), """
            {"schema": {"type": "integer", "minimum": 0},
             "tests": [{"description": "five", "data": 5, "valid": true},
                       {"description": "negative", "data": -1, "valid": false},
                       {"description": "string", "data": "5", "valid": false}]}
            """);
        File.WriteAllText(Path.Combine(cases, "sub", "suite.json"), """
            [
              {"description": "enum", "schema": {"enum": ["red", "grün"]},
               "tests": [{"description": "red", "data": "red", "valid": true},
                         {"description": "non-ASCII kept", "data": "grün", "valid": true},
                         {"description": "blue", "data": "blue", "valid": false}]},
              {"description": "unique items", "schema": {"type": "array", "uniqueItems": true},
               "tests": [{"description": "pair", "data": [1, 2], "valid": true}]},
              {"description": "floats", "schema": {"type": "number", "maximum": 3},
               "tests": [{"description": "one point oh", "data": 1.0, "valid": true},
                         {"description": "too big", "data": 3.5, "valid": false}]},
              {"description": "property order", "schema": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
               "tests": [{"description": "declared order", "data": {"a": 1, "b": 2}, "valid": true},
                         {"description": "reversed", "data": {"b": 2, "a": 1}, "valid": true},
                         {"description": "wrong type", "data": {"a": "x"}, "valid": false}]}
            ]
            """);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Tokenizer => Path.Combine(_dir, "tok", "tokenizer.json");

    [Fact]
    public void WritesOneLinePerSchemaAndASummary()
    {
        var outFile = Path.Combine(_dir, "out.jsonl");
        var (code, stdout, err) = Run("grammar", "test", "--tokenizer", Tokenizer, "--cases", Path.Combine(_dir, "cases"), "--out", outFile);
        Assert.True(code == 0, err);

        var lines = File.ReadAllLines(outFile).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["single.json", "sub/suite.json", "sub/suite.json", "sub/suite.json", "sub/suite.json"], lines.Select(l => l.GetProperty("file").GetString()));
        var byDescription = lines.Skip(1).ToDictionary(l => l.GetProperty("description").GetString()!);
        Assert.Equal(JsonValueKind.Null, lines[0].GetProperty("description").ValueKind);

        var unsupported = byDescription["unique items"];
        Assert.Equal("unsupported", unsupported.GetProperty("status").GetString());
        Assert.Contains("uniqueItems", unsupported.GetProperty("message").GetString());
        Assert.Equal(0, unsupported.GetProperty("tests").GetArrayLength());

        foreach (var line in lines.Where(l => l.GetProperty("status").GetString() == "ok"))
        {
            Assert.False(line.TryGetProperty("message", out _));
            Assert.True(line.GetProperty("compile_us").GetDouble() > 0);
            foreach (var t in line.GetProperty("tests").EnumerateArray())
            {
                var description = t.GetProperty("description").GetString();
                var expected = t.GetProperty("expected").GetBoolean();
                // The one valid instance the grammar's declared-order narrowing rejects; every other is classified right.
                Assert.True(t.GetProperty("accepted").GetBoolean() == (expected && description != "reversed"), $"{line.GetProperty("description")} / {description}");
            }
        }

        Assert.Contains("schemas: 5 (compiled 4, unsupported 1, error 0)", stdout);
        Assert.Contains("schemas passing: 3 of 4 compiled", stdout);
        Assert.Contains("valid instances rejected: 1 of 6", stdout);
        Assert.Contains("invalid instances accepted: 0 of 5", stdout);
        Assert.Matches(@"mask us \(first pass, cold cache\): mean [0-9.]+ p50 [0-9.]+ p99 [0-9.]+ \([1-9][0-9]* masks\)", stdout);
        Assert.Matches(@"compile ms: median [0-9.]+", stdout);
    }

    [Fact]
    public void WithoutOutTheLinesGoToStdoutAndTheSummaryToStderr()
    {
        var (code, stdout, err) = Run("grammar", "test", "--tokenizer", Tokenizer, "--cases", Path.Combine(_dir, "cases", "single.json"), "--passes", "2");
        Assert.True(code == 0, err);
        var line = JsonDocument.Parse(stdout.Trim()).RootElement;
        Assert.Equal("single.json", line.GetProperty("file").GetString());
        Assert.Equal([true, false, false], line.GetProperty("tests").EnumerateArray().Select(t => t.GetProperty("accepted").GetBoolean()));
        Assert.Contains("invalid instances accepted: 0 of 2", err);
        Assert.Matches(@"warm mask us: mean [0-9.]+ p50 [0-9.]+ p99 [0-9.]+ \([1-9][0-9]* masks\)", err);
    }

    [Theory]
    [InlineData("grammar")]
    [InlineData("grammar", "run")]
    [InlineData("grammar", "test", "--tokenizer", "t.json")]
    [InlineData("grammar", "test", "--tokenizer", "t.json", "--cases", "c", "--passes", "0")]
    [InlineData("grammar", "test", "--tokenizer", "t.json", "--cases", "c", "--verbose")]
    public void BadArgumentsPrintUsageAndExit2(params string[] args)
    {
        var (code, _, err) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains("usage: flywheel grammar test", err);
    }

    [Theory]
    [InlineData("""{"schema": {}, "tests": [""", "not valid JSON")]
    [InlineData("""{"tests": []}""", "has no \"schema\"")]
    [InlineData("""[{"schema": {}, "tests": [{"data": 1}]}]""", "has no boolean \"valid\"")]
    public void UnreadableCaseFilesAreAClearError(string text, string reason)
    {
        var file = Path.Combine(_dir, "bad.json");
        File.WriteAllText(file, text);
        var (code, _, err) = Run("grammar", "test", "--tokenizer", Tokenizer, "--cases", file);
        Assert.Equal(1, code);
        Assert.Contains("bad.json", err);
        Assert.Contains(reason, err);
        Assert.DoesNotContain("   at ", err);
    }

    [Fact]
    public void MissingCasesAreAClearError()
    {
        var (code, _, err) = Run("grammar", "test", "--tokenizer", Tokenizer, "--cases", Path.Combine(_dir, "nope"));
        Assert.Equal(1, code);
        Assert.Contains("cases not found", err);
    }
}
