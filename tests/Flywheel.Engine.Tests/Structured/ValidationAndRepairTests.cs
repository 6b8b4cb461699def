using Flywheel.Structured;
using Flywheel.Templates;

namespace Flywheel.Engine.Tests.Structured;

public sealed class ValidationAndRepairTests
{
    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}
        """;

    [Fact]
    public void Reports_errors_with_paths()
    {
        var v = JsonSchemaValidator.Create(Person);
        Assert.Empty(v.Validate("""{"name":"a","age":3}"""));
        var errors = v.Validate("""{"name":"a","age":-1}""");
        Assert.Contains(errors, e => e.Path.Contains("age", StringComparison.Ordinal));
        Assert.Contains(v.Validate("""{"age":1}"""), e => e.Message.Contains("name", StringComparison.Ordinal));
        Assert.Contains(v.Validate("{\"name\":"), e => e.Message.StartsWith("not valid JSON", StringComparison.Ordinal));
    }

    [Fact]
    public void Guards_const_prefixItems_and_boolean_subschemas()
    {
        var c = JsonSchemaValidator.Create("""{"properties":{"kind":{"const":"a"}}}""");
        Assert.Empty(c.Validate("""{"kind":"a"}"""));
        Assert.NotEmpty(c.Validate("""{"kind":"b"}"""));

        var p = JsonSchemaValidator.Create("""{"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}""");
        Assert.Empty(p.Validate("""["a",1,2]"""));
        Assert.NotEmpty(p.Validate("""[1]"""));
        Assert.NotEmpty(p.Validate("""["a","b"]"""));

        var b = JsonSchemaValidator.Create("""{"properties":{"x":false,"y":true},"$defs":{"d":{"const":1}},"items":{"$ref":"#/$defs/d"}}""");
        Assert.Empty(b.Validate("""{"y":[1]}"""));
        Assert.NotEmpty(b.Validate("""{"x":1}"""));
        Assert.NotEmpty(b.Validate("""[2]"""));
        Assert.NotEmpty(JsonSchemaValidator.Create("false").Validate("1"));
        Assert.Empty(JsonSchemaValidator.Create("true").Validate("1"));
    }

    [Fact]
    public void Guards_contains_and_conditionals()
    {
        var c = JsonSchemaValidator.Create("""{"contains":{"type":"string"}}""");
        Assert.Empty(c.Validate("""[1,"a"]"""));
        Assert.NotEmpty(c.Validate("""[1,2]"""));
        Assert.Empty(c.Validate("""5"""));
        var i = JsonSchemaValidator.Create("""{"if":{"properties":{"a":{"const":1}},"required":["a"]},"then":{"required":["b"]},"else":{"required":["c"]}}""");
        Assert.Empty(i.Validate("""{"a":1,"b":0}"""));
        Assert.NotEmpty(i.Validate("""{"a":1,"c":0}"""));
        Assert.Empty(i.Validate("""{"a":2,"c":0}"""));
        Assert.Throws<SchemaCompileException>(() => JsonSchemaValidator.Create("""{"contains":{},"minContains":2}"""));
    }

    [Fact]
    public async Task Repair_loop_fixes_after_feedback()
    {
        var seen = new List<IReadOnlyList<ChatMessage>>();
        var answers = new Queue<string>(["{\"name\":\"Bo\"}", "{\"name\":\"Bo\",\"age\":\"x\"}", "{\"name\":\"Bo\",\"age\":7}"]);
        var loop = new RepairLoop((msgs, _) =>
        {
            seen.Add([.. msgs]);
            return Task.FromResult(answers.Dequeue());
        });
        var result = await loop.RunAsync([new ChatMessage("user", "Who?")], JsonSchemaValidator.Create(Person), maxRepairs: 3);
        Assert.True(result.Valid);
        Assert.Equal(2, result.RepairCount);
        Assert.Equal("{\"name\":\"Bo\",\"age\":7}", result.Text);
        Assert.Equal(3, result.AttemptErrors.Count);
        Assert.NotEmpty(result.AttemptErrors[0]);
        Assert.Empty(result.AttemptErrors[2]);
        Assert.Equal(5, seen[2].Count);
        Assert.Equal("assistant", seen[1][1].Role);
        Assert.Equal("{\"name\":\"Bo\"}", seen[1][1].Content);
        Assert.Contains("age", seen[1][2].Content, StringComparison.Ordinal);
        Assert.Contains("corrected JSON object only", seen[1][2].Content, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Repair_loop_stops_at_the_limit_and_reports()
    {
        var calls = 0;
        var loop = new RepairLoop((_, _) =>
        {
            calls++;
            return Task.FromResult("not json");
        });
        var result = await loop.RunAsync([new ChatMessage("user", "x")], JsonSchemaValidator.Create(Person), maxRepairs: 2);
        Assert.False(result.Valid);
        Assert.Equal(3, calls);
        Assert.Equal(2, result.RepairCount);
        Assert.All(result.AttemptErrors, e => Assert.NotEmpty(e));
    }

    /// <summary>A scripted answer: text plus what a caller keeps beside it (here, a token count).</summary>
    private sealed record Scripted(string? Text, int Tokens);

    [Fact]
    public async Task Generic_loop_returns_the_last_answer_with_what_the_caller_kept()
    {
        var answers = new Queue<Scripted>([new("{\"name\":1}", 5), new("{\"name\":\"Al\",\"age\":2}", 9)]);
        var result = await RepairLoop.RunAsync([new ChatMessage("user", "Who?")], JsonSchemaValidator.Create(Person), 3,
            (_, _) => Task.FromResult<Scripted?>(answers.Dequeue()), a => a.Text);
        Assert.True(result.Valid);
        Assert.Equal(1, result.RepairCount);
        Assert.Equal(9, result.Answer.Tokens);
        Assert.Empty(result.LastErrors);
    }

    [Fact]
    public async Task Generic_loop_stops_when_a_repair_cannot_run()
    {
        var calls = 0;
        var result = await RepairLoop.RunAsync([new ChatMessage("user", "x")], JsonSchemaValidator.Create(Person), 3,
            (_, _) => Task.FromResult(calls++ == 0 ? new Scripted("{}", 4) : null), a => a.Text);
        Assert.Equal(2, calls);
        Assert.False(result.Valid);
        Assert.Equal(0, result.RepairCount);
        Assert.Equal(4, result.Answer.Tokens);
        Assert.Contains(result.LastErrors, e => e.Message.Contains("name", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Generic_loop_does_not_validate_or_repair_an_answer_that_has_no_text()
    {
        var calls = 0;
        var result = await RepairLoop.RunAsync([new ChatMessage("user", "x")], JsonSchemaValidator.Create(Person), 3,
            (_, _) => { calls++; return Task.FromResult<Scripted?>(new Scripted(null, 1)); }, a => a.Text);
        Assert.Equal(1, calls);
        Assert.False(result.Valid);
        Assert.Empty(result.AttemptErrors);
        await Assert.ThrowsAsync<InvalidOperationException>(() => RepairLoop.RunAsync<Scripted>([new ChatMessage("user", "x")], JsonSchemaValidator.Create(Person), 1,
            (_, _) => Task.FromResult<Scripted?>(null), a => a.Text));
    }
}
