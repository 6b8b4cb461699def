using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Tokenization;

namespace Flywheel.Cli.Tests;

/// <summary>
/// Schemas that recurse: a JSON-LD-shaped schema (recursive definitions joined by allOf) and
/// generated families of reference chains and cycles through allOf, anyOf, items and properties,
/// 10 to 100,000 levels deep. A stack overflow cannot be caught and kills the whole process, so
/// they run through <c>flywheel grammar test</c> in a child process: a regression is a failed
/// test (exit code and missing lines), not a dead test host.
/// </summary>
public sealed class SchemaRecursionTests : IDisposable
{
    private static readonly int[] Depths = [10, 100, 1_000, 10_000, 100_000];

    private readonly string _dir = TestScratch.Path("recursion-" + Guid.NewGuid().ToString("N"));

    public SchemaRecursionTests() => SyntheticTokenizer.Write(Path.Combine(_dir, "tok"), 600);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Recursive definitions joined by allOf, shaped like JSON Schema Store's JSON-LD schema.</summary>
    public const string JsonLdShaped = """
        {
          "$schema": "http://json-schema.org/draft-04/schema#",
          "title": "linked data document",
          "type": ["object", "array"],
          "additionalProperties": true,
          "allOf": [{"$ref": "#/definitions/context"}, {"$ref": "#/definitions/graph"}, {"$ref": "#/definitions/node"}],
          "definitions": {
            "context": {
              "additionalProperties": true,
              "properties": {"@context": {"description": "term definitions", "type": ["object", "string", "array", "null"]}}
            },
            "graph": {
              "additionalProperties": {"anyOf": [{"$ref": "#/definitions/graph"}]},
              "properties": {"@graph": {"type": ["array", "object"], "items": {"anyOf": [{"$ref": "#/definitions/node"}]}}}
            },
            "node": {
              "additionalProperties": {"anyOf": [{"$ref": "#/definitions/node"}]},
              "properties": {
                "@id": {"type": "string", "format": "uri"},
                "@type": {"type": ["string", "null", "array"]},
                "@language": {"type": ["string", "null"]},
                "@reverse": {"type": ["string", "object", "null"], "additionalProperties": {"anyOf": [{"$ref": "#/definitions/node"}]}},
                "@value": {"type": ["string", "boolean", "number", "null"]}
              }
            }
          }
        }
        """;

    [Fact]
    public void Recursive_and_deep_schemas_compile_or_are_refused_naming_the_limit_without_crashing()
    {
        var cases = Path.Combine(_dir, "cases");
        Directory.CreateDirectory(cases);
        var expected = new Dictionary<string, Func<JsonElement, string?>>();
        void Case(string name, JsonNode schema, JsonNode data, Func<JsonElement, string?> check)
        {
            var file = new JsonObject { ["schema"] = schema, ["tests"] = new JsonArray(new JsonObject { ["data"] = data, ["valid"] = true }) };
            File.WriteAllText(Path.Combine(cases, name + ".json"), file.ToJsonString());
            expected[name + ".json"] = check;
        }

        Case("jsonld", JsonNode.Parse(JsonLdShaped)!, new JsonObject { ["@id"] = "x" }, Refused("recurses without end"));

        // A legitimately recursive tree: compiles, and accepts a nested instance.
        Case("tree", JsonNode.Parse("""
            {"$defs": {"node": {"type": "object", "properties": {"name": {"type": "string"}, "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
             "$ref": "#/$defs/node"}
            """)!, Nested(20), Accepted);

        // One recursive definition joined with itself is itself.
        Case("self-join", JsonNode.Parse("""
            {"$defs": {"c": {"type": "object", "additionalProperties": {"$ref": "#/$defs/c"}}}, "allOf": [{"$ref": "#/$defs/c"}, {"$ref": "#/$defs/c"}]}
            """)!, new JsonObject(), Accepted);

        // Every definition referenced from near the root, yet each starts with the next: a chain of
        // 2,000 rules that matching would walk without reading a byte.
        var spaced = Chain(2_000, i => Obj("anyOf", Arr(Ref(i + 1), Obj("type", "null"))));
        spaced.Remove("$ref");
        spaced["anyOf"] = new JsonArray([.. Enumerable.Range(0, 5).Select(i => (JsonNode)Ref(i * 400))]);
        Case("spaced-anyof-chain", spaced, null!, Refused("limit of 512"));

        foreach (var n in Depths)
        {
            var shallow = n <= 100;
            Case($"allof-chain-{n}", Chain(n, i => Obj("type", "object", "allOf", Arr(Ref(i + 1)))), new JsonObject(),
                shallow ? Accepted : Refused("limit of 512"));
            Case($"anyof-chain-{n}", Chain(n, i => Obj("anyOf", Arr(Ref(i + 1), Obj("type", "null")))), null!,
                shallow ? Accepted : Refused("limit of 512"));
            Case($"items-chain-{n}", Chain(n, i => Obj("type", "array", "items", Ref(i + 1))), new JsonArray(),
                shallow ? Accepted : Refused("limit of 512"));
            Case($"properties-chain-{n}", Chain(n, i => Obj("type", "object", "properties", Obj("x", Ref(i + 1)))), new JsonObject(),
                shallow ? Accepted : Refused("limit of 512"));
            Case($"ref-chain-{n}", Chain(n, i => Ref(i + 1)), new JsonObject(), shallow ? Accepted : Refused("limit of 512"));

            // Cycles: through allOf they can never be merged; through properties they are a recursive grammar.
            Case($"allof-cycle-{n}", Cycle(n, i => Obj("type", "object", "allOf", Arr(Ref((i + 1) % n)))), new JsonObject(), Refused(""));
            Case($"properties-cycle-{n}", Cycle(n, i => Obj("type", "object", "properties", Obj("x", Ref((i + 1) % n)))), new JsonObject(),
                shallow ? Accepted : Refused("limit of 512"));
            Case($"allof-anyof-cycle-{n}", Cycle(n, i => Obj("type", "object", "properties", Obj("x", Ref((i + 1) % n)),
                "allOf", Arr(Obj("anyOf", Arr(Ref((i + 1) % n), Obj("type", "object")))))), new JsonObject(), Refused(""));
            Case($"pattern-groups-{n}", Obj("type", "string", "pattern", new string('(', n) + "a" + new string(')', n)), "a",
                shallow ? Accepted : Refused("limit of 100"));
        }

        var outFile = Path.Combine(_dir, "out.jsonl");
        var (code, stderr) = RunFlywheel("grammar", "test", "--tokenizer", Path.Combine(_dir, "tok", "tokenizer.json"), "--cases", cases, "--out", outFile);
        Assert.True(code == 0, $"flywheel grammar test exited {code}: {stderr[^Math.Min(stderr.Length, 3000)..]}");

        var lines = File.ReadAllLines(outFile).Select(l => JsonDocument.Parse(l).RootElement).ToDictionary(l => l.GetProperty("file").GetString()!);
        var problems = expected
            .Select(e => (e.Key, Problem: lines.TryGetValue(e.Key, out var line) ? e.Value(line) : "no result line"))
            .Where(p => p.Problem is not null).Select(p => $"{p.Key}: {p.Problem}").ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static string? Accepted(JsonElement line) =>
        line.GetProperty("status").GetString() != "ok" ? $"expected to compile, got {line}"
        : line.GetProperty("tests").EnumerateArray().All(t => t.GetProperty("accepted").GetBoolean()) ? null : $"valid instance rejected: {line}";

    private static Func<JsonElement, string?> Refused(string limit) => line =>
        line.GetProperty("status").GetString() == "unsupported" && line.GetProperty("message").GetString()!.Contains(limit, StringComparison.Ordinal)
            ? null : $"expected a refusal mentioning '{limit}', got {line}";

    private static JsonObject Chain(int n, Func<int, JsonNode> link)
    {
        var defs = new JsonObject();
        for (var i = 0; i < n; i++)
        {
            defs["d" + i] = link(i);
        }

        defs["d" + n] = Obj("type", new JsonArray("object", "array", "null"));
        return Obj("$defs", defs, "$ref", "#/$defs/d0");
    }

    private static JsonObject Cycle(int n, Func<int, JsonNode> link)
    {
        var defs = new JsonObject();
        for (var i = 0; i < n; i++)
        {
            defs["d" + i] = link(i);
        }

        return Obj("$defs", defs, "$ref", "#/$defs/d0");
    }

    private static JsonObject Ref(int i) => Obj("$ref", "#/$defs/d" + i);

    private static JsonArray Arr(params JsonNode[] items) => new(items);

    private static JsonObject Obj(params object[] pairs)
    {
        var o = new JsonObject();
        for (var i = 0; i < pairs.Length; i += 2)
        {
            o[(string)pairs[i]] = pairs[i + 1] switch { JsonNode node => node, string s => JsonValue.Create(s), var v => throw new ArgumentException(v.ToString()) };
        }

        return o;
    }

    private static JsonNode Nested(int depth)
    {
        JsonNode node = new JsonObject { ["name"] = "leaf" };
        for (var i = 0; i < depth; i++)
        {
            node = new JsonObject { ["name"] = "n" + i, ["children"] = new JsonArray(node) };
        }

        return node;
    }

    /// <summary>Runs the flywheel CLI (built beside this test assembly) in a child process.</summary>
    private static (int Code, string Stderr) RunFlywheel(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "flywheel.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        args.ToList().ForEach(start.ArgumentList.Add);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, "timed out after 10 minutes");
        }

        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
