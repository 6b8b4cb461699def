using Flywheel.Serving.Backend;
using Flywheel.Structured;
using Flywheel.Templates;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>The TypeChat-style repair loop of the serving layer, driven with scripted answers.</summary>
public sealed class RepairLoopTests
{
    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}
        """;

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

    [Fact]
    public async Task The_repair_loop_judges_integers_wider_than_any_dotnet_type()
    {
        // The soak's 500s: the grammar lets a model write this under a schema with only minimum.
        var answers = new Queue<string>(["""{"n":-123456789012345678901234567890123456789}""", """{"n":123456789012345678901234567890123456789}"""]);
        var loop = new RepairLoop((_, _) => Task.FromResult(answers.Dequeue()));
        var validator = JsonSchemaValidator.Create("""{"type":"object","properties":{"n":{"type":"integer","minimum":0}},"required":["n"]}""");
        var result = await loop.RunAsync([new ChatMessage("user", "x")], validator, maxRepairs: 2);
        Assert.True(result.Valid);
        Assert.Equal(1, result.RepairCount);
        Assert.Contains(result.AttemptErrors[0], e => e.Message.Contains("too small", StringComparison.Ordinal));
    }
}
