using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Hostile schemas compile or are refused naming the limit, within a budget generous enough for a
/// loaded CI box (the tight numbers are in the schema-abuse benchmark); compiles stop when cancelled
/// or out of time; and the counted-run search that makes <c>.{1000}</c> cheap means what the regex means.
/// </summary>
public sealed class SchemaAbuseTests
{
    /// <summary>Seconds any of these may take here; before the fix they took 24 to 107 s.</summary>
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);

    /// <summary>No time limit inside the compile: outcomes must come from the state budget, not from how busy the machine is.</summary>
    private static readonly JsonSchemaCompileOptions NoTimeLimit = new() { CompileTimeout = Timeout.InfiniteTimeSpan };

    public static TheoryData<string, string, bool> Abusive() => new()
    {
        { "pattern .{1000}", """{"type":"string","pattern":".{1000}"}""", true },
        { "two patterns .{999}/.{998}", """{"type":"object","properties":{"a":{"type":"string","pattern":".{999}"},"b":{"type":"string","pattern":".{998}"}}}""", true },
        { "2,000 optional properties", Properties(2000), true },
        { "allOf of 200 objects x 10 properties", AllOf(200, 10), true },
        { "3,000 optional properties", Properties(3000), true },
        { "allOf of 300 objects x 10 properties", AllOf(300, 10), true },
        { "10,000 optional properties", Properties(10_000), false },
        { "allOf of 1,000 objects x 10 properties", AllOf(1000, 10), false },
        { "recursive tree", """{"$defs":{"n":{"type":"object","properties":{"label":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/n"}}},"required":["label"]}},"$ref":"#/$defs/n"}""", true },
        { "10,000-value enum", "{\"enum\":[" + string.Join(',', Enumerable.Range(0, 10_000).Select(i => $"\"value-{i}\"")) + "]}", true },
        { "10,000-character pattern", "{\"type\":\"string\",\"pattern\":\"^" + string.Concat(Enumerable.Repeat("ab[0-9]c", 1249)) + "xxxxxx$\"}", true },
    };

    [Theory]
    [MemberData(nameof(Abusive))]
    public async Task Hostile_schema_compiles_or_is_refused_naming_the_limit_within_budget(string name, string schema, bool compiles)
    {
        var clock = Stopwatch.StartNew();
        // On a pool thread so a regression fails the test at the budget instead of holding the run for minutes.
        var compile = Task.Run(() =>
        {
            try
            {
                return (Grammar: JsonSchemaGrammar.Compile(schema, NoTimeLimit), Error: (SchemaCompileException?)null);
            }
            catch (SchemaCompileException e)
            {
                return (Grammar: (JsonSchemaGrammar?)null, Error: e);
            }
        });
        var answered = await Task.WhenAny(compile, Task.Delay(Budget));
        Assert.True(answered == compile, $"{name}: no answer within {Budget.TotalSeconds} s");
        var (grammar, error) = await compile;
        if (compiles)
        {
            Assert.True(grammar is not null, $"{name}: refused: {error?.Message}");
        }
        else
        {
            Assert.NotNull(error);
            Assert.Contains("--max-schema-states", error.Message, StringComparison.Ordinal);
        }

        Assert.True(clock.Elapsed < Budget, $"{name}: took {clock.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void Counted_pattern_accepts_exactly_the_long_enough_strings()
    {
        var grammar = JsonSchemaGrammar.Compile("""{"type":"string","pattern":".{1000}"}""");
        Assert.True(Accepts(grammar, "\"" + new string('x', 1000) + "\""));
        Assert.True(Accepts(grammar, "\"" + new string('é', 1200) + "\""));
        Assert.False(Accepts(grammar, "\"" + new string('x', 999) + "\""));
        Assert.False(Accepts(grammar, "\"" + new string('x', 600) + "\\n" + new string('x', 600) + "\""), "'.' does not match a newline");
    }

    [Theory]
    [InlineData("a{3}")]
    [InlineData("^a{2,5}")]
    [InlineData("[ab]{3}$")]
    [InlineData("\\d{2,}")]
    [InlineData(".{4}")]
    [InlineData("^.{3}")]
    [InlineData(".{2}$")]
    [InlineData("x|a{3}")]
    public void Counted_run_search_agrees_with_the_regex(string pattern)
    {
        // Random short strings over an alphabet that hits every case: the set, outside it, a newline, multi-byte.
        var grammar = JsonSchemaGrammar.Compile($$"""{"type":"string","pattern":{{System.Text.Json.JsonSerializer.Serialize(pattern)}}}""");
        // .NET's '$' also matches before a final newline; ECMA-262's (JSON Schema's) only at the end.
        var regex = new Regex(pattern.EndsWith('$') ? pattern[..^1] + "\\z" : pattern, RegexOptions.ECMAScript);
        var random = new Random(17);
        string[] alphabet = ["a", "b", "7", "\n", "é", "x"];
        for (var i = 0; i < 400; i++)
        {
            var text = string.Concat(Enumerable.Range(0, random.Next(0, 9)).Select(_ => alphabet[random.Next(alphabet.Length)]));
            Assert.True(regex.IsMatch(text) == Accepts(grammar, System.Text.Json.JsonSerializer.Serialize(text, JsonEscapes.Relaxed)),
                $"pattern {pattern} on {System.Text.Json.JsonSerializer.Serialize(text)}: regex says {regex.IsMatch(text)}");
        }
    }

    [Theory]
    [InlineData(".")]
    [InlineData("\\d")]
    [InlineData("[^a]")]
    [InlineData("[é-ü]")]
    [InlineData("\\S")]
    [InlineData("[\\s\\S]")]
    [InlineData("[\\u2027-\\u202a😀]")]
    public void Directly_built_counted_run_is_the_subset_construction_of_its_search(string set)
    {
        // Language equality both ways (a product automaton each), for every anchoring and a few counts.
        foreach (var (prefix, suffix) in new[] { ("", ""), ("^", ""), ("", "$") })
        {
            foreach (var count in new[] { 1, 2, 5 })
            {
                var pattern = $"{prefix}{set}{{{count}}}{suffix}";
                var direct = RegexCompiler.Compile(pattern, "pattern", "#");
                var bySubsets = RegexCompiler.CompileBySubsets(RegexParser.ParseTopLevel(pattern, "pattern", "#", out _));
                Assert.True(ByteDfa.Subtract(direct, bySubsets).IsEmpty, $"{pattern}: the direct automaton accepts more");
                Assert.True(ByteDfa.Subtract(bySubsets, direct).IsEmpty, $"{pattern}: the direct automaton accepts less");
            }
        }
    }

    [Fact]
    public void A_cancelled_compile_stops()
    {
        // Unlimited states and time: only the token can stop this compile (seconds to minutes of work).
        var options = new JsonSchemaCompileOptions { MaxStates = int.MaxValue / CompileBudget.NfaStatesPerState, CompileTimeout = Timeout.InfiniteTimeSpan };
        // Cancelled from a thread of its own: a timer's callback runs on the thread pool, which the test
        // host's parallel classes can keep busy for longer than this compile now takes.
        using var cancel = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            Thread.Sleep(100);
            cancel.Cancel();
        });
        var clock = Stopwatch.StartNew();
        canceller.Start();
        Assert.ThrowsAny<OperationCanceledException>(() => JsonSchemaGrammar.Compile(DistinctMembers(15000), options, cancel.Token));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopped only after {clock.Elapsed.TotalSeconds:F1} s");
        canceller.Join();
    }

    [Fact]
    public void A_compile_out_of_time_is_refused_naming_the_limit()
    {
        var options = new JsonSchemaCompileOptions { MaxStates = int.MaxValue / CompileBudget.NfaStatesPerState, CompileTimeout = TimeSpan.FromMilliseconds(100) };
        var e = Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile(DistinctMembers(15000), options));
        Assert.Contains("--schema-compile-timeout", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_small_state_budget_refuses_naming_the_limit()
    {
        var e = Assert.Throws<SchemaCompileException>(() =>
            JsonSchemaGrammar.Compile("""{"type":"string","pattern":"^[a-z]{100}$"}""", new JsonSchemaCompileOptions { MaxStates = 50 }));
        Assert.Contains("--max-schema-states", e.Message, StringComparison.Ordinal);
    }

    private static bool Accepts(JsonSchemaGrammar grammar, string json)
    {
        var matcher = grammar.CreateByteMatcher();
        return matcher.TryAdvance(Encoding.UTF8.GetBytes(json)) && matcher.IsComplete;
    }

    private static string Properties(int count) =>
        "{\"type\":\"object\",\"properties\":{" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"p{i}\":{{\"type\":\"string\"}}")) + "}}";

    /// <summary>
    /// An object whose members all differ (each value its own enum), so none shares another's states: about
    /// 1M states, seconds of compiling on an idle machine, unlike a wide object of alike members, which now
    /// compiles in tens of milliseconds.
    /// </summary>
    private static string DistinctMembers(int count) =>
        "{\"type\":\"object\",\"properties\":{" + string.Join(',', Enumerable.Range(0, count).Select(i => $"\"r{i}\":{{\"enum\":[\"v{i}\"]}}")) + "}}";

    private static string AllOf(int objects, int propertiesEach) =>
        "{\"allOf\":[" + string.Join(',', Enumerable.Range(0, objects).Select(o =>
            "{\"type\":\"object\",\"properties\":{" + string.Join(',', Enumerable.Range(0, propertiesEach).Select(p => $"\"o{o}p{p}\":{{\"type\":\"string\"}}")) + "}}")) + "]}";

    private static class JsonEscapes
    {
        /// <summary>Non-ASCII written as is (the grammar's constrained strings use short escapes only).</summary>
        public static readonly System.Text.Json.JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    }
}
