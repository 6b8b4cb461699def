using Flywheel.Sampling;
using Flywheel.Serving;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Serving.Tools;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.Tools;

/// <summary>Text updates to tool calls: what goes out as text, as call pieces, and in the finish event.</summary>
public sealed class ToolCallStreamTests
{
    private static readonly ToolDefinition A = new("a", null, """{"type":"object","properties":{"s":{"type":"string"},"n":{"type":"array","items":{"type":"integer"}}}}""");
    private static readonly ToolDefinition B = new("b", null, ToolDefinition.NoParameters);

    private static CompiledFormat Compile(bool several)
    {
        var schema = ToolCallSchema.Build([A, B], several);
        return new CompiledFormat(JsonSchemaGrammar.Compile(schema), JsonSchemaValidator.Create(schema));
    }

    private static async Task<List<GenerationUpdate>> Run(ToolPlan plan, params string[] chunks)
    {
        async IAsyncEnumerable<GenerationUpdate> Updates()
        {
            var id = 0;
            foreach (var chunk in chunks)
            {
                await Task.Yield();
                yield return new TextDelta(chunk, [new GeneratedToken(id++, chunk)]);
            }

            yield return new Finished(FinishReason.Stop, 5, chunks.Length);
        }

        var updates = new List<GenerationUpdate>();
        await foreach (var update in ToolCallStream.Translate(Updates(), plan, constrained: true, CancellationToken.None))
        {
            updates.Add(update);
        }

        Assert.Equal(chunks.Length, updates.OfType<TextDelta>().Sum(d => d.Tokens.Count)); // no token lost
        return updates;
    }

    private static string Text(List<GenerationUpdate> updates) => string.Concat(updates.OfType<TextDelta>().Select(d => d.Text));

    [Fact]
    public async Task Forced_calls_stream_their_names_first_then_their_arguments_as_written()
    {
        var plan = new ToolPlan(ToolChoice.Required, ToolCallFormat.HermesTags, Compile(several: true), null);
        var updates = await Run(plan, "[{\"na", "me\":\"a\",\"argu", "ments\":{\"s\":\"}{\\\"", "\",\"n\":[1]}}", ",{\"name\":\"b\",\"arguments\":{}}]");

        Assert.Equal("", Text(updates));
        var pieces = updates.OfType<ToolCallDelta>().ToList();
        // The name goes out with the chunk that completes it, before any argument is written.
        Assert.Equal(new ToolCallDelta(0, pieces[0].Id, "a", ""), pieces[0]);
        Assert.True(updates.IndexOf(pieces[0]) < updates.IndexOf(updates.OfType<TextDelta>().ElementAt(2)));
        Assert.Equal("{\"s\":\"}{\\\"\",\"n\":[1]}", string.Concat(pieces.Where(p => p.Index == 0).Select(p => p.Arguments)));
        Assert.True(pieces.Count(p => p.Index == 0 && p.Arguments.Length > 0) >= 2); // in pieces, not in one go
        Assert.Equal("b", pieces.Single(p => p.Index == 1 && p.Name is not null).Name);
        Assert.Equal("{}", string.Concat(pieces.Where(p => p.Index == 1).Select(p => p.Arguments)));

        var finished = Assert.IsType<Finished>(updates[^1]);
        Assert.Equal([pieces[0].Id, pieces.Single(p => p.Index == 1 && p.Id is not null).Id], finished.ToolCalls!.Select(c => c.Id));
        Assert.Equal(["a", "b"], finished.ToolCalls!.Select(c => c.Name));
    }

    [Fact]
    public async Task Auto_sends_the_text_before_a_Hermes_call_and_holds_back_what_may_open_one()
    {
        var plan = new ToolPlan(ToolChoice.Auto, ToolCallFormat.HermesTags, null, Compile(several: false));
        var updates = await Run(plan, "Let me look. <to", "ol_call>\n{\"name\":\"a\",\"arguments\":{\"s\":\"x\"}}");

        Assert.Equal("Let me look. ", Text(updates));
        Assert.Equal("Let me look. ", ((TextDelta)updates[0]).Text); // "<to" was held back at once
        var finished = Assert.IsType<Finished>(updates[^1]);
        var call = Assert.Single(finished.ToolCalls!);
        Assert.Equal(("a", "{\"s\":\"x\"}"), (call.Name, call.Arguments));
        Assert.True(finished.Structured!.Valid);
    }

    [Fact]
    public async Task Auto_returns_a_call_its_schema_refuses_as_text_reported_invalid()
    {
        // Possible only unconstrained (the trigger's grammar rules it out); a call is returned only when it validates.
        var plan = new ToolPlan(ToolChoice.Auto, ToolCallFormat.HermesTags, null, Compile(several: false));
        const string answer = "<tool_call>{\"name\": \"b\", \"arguments\": {\"extra\": 1}}</tool_call>";
        var updates = await Run(plan, answer);
        var finished = Assert.IsType<Finished>(updates[^1]);
        Assert.Null(finished.ToolCalls);
        Assert.Empty(updates.OfType<ToolCallDelta>());
        Assert.Equal(answer, Text(updates));
        Assert.False(finished.Structured!.Valid);
        Assert.Contains(finished.Structured.Errors!, e => e.StartsWith("tool_calls[0]", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(ToolCallFormat.HermesTags, "Sure. <tool_call>{\"name\":\"a\",\"argu")]
    [InlineData(ToolCallFormat.Llama3Json, "{\"name\": \"a\", \"parameters\": {\"s\": ")]
    public async Task Auto_reports_a_call_that_began_and_ended_unreadable_as_invalid(ToolCallFormat format, string answer)
    {
        var plan = new ToolPlan(ToolChoice.Auto, format, null, Compile(several: false));
        var finished = Assert.IsType<Finished>((await Run(plan, answer))[^1]);
        Assert.Null(finished.ToolCalls);
        Assert.False(finished.Structured!.Valid);
        Assert.Contains(finished.Structured.Errors!, e => e.StartsWith("tool_calls", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Auto_sends_the_text_after_a_call_as_content()
    {
        var plan = new ToolPlan(ToolChoice.Auto, ToolCallFormat.HermesTags, null, Compile(several: false));
        var updates = await Run(plan, "Looking.\n<tool_call>\n{\"name\":\"b\",\"arguments\":{}}\n</tool_call>", "\nSent; ", "waiting.");
        Assert.Equal("Looking.\nSent; waiting.", Text(updates));
        Assert.Equal("b", Assert.Single(Assert.IsType<Finished>(updates[^1]).ToolCalls!).Name);
    }

    [Fact]
    public async Task A_forced_call_cut_short_stays_a_partial_call_and_is_not_sent_again_as_text()
    {
        // A stop string (or the end of the context) cuts the call after its name and part of its arguments went out.
        var plan = new ToolPlan(ToolChoice.Required, ToolCallFormat.HermesTags, Compile(several: false), null);
        var updates = await Run(plan, "{\"name\":\"a\",", "\"arguments\":{\"s\":\"x", "y");

        Assert.Equal("", Text(updates));
        var pieces = updates.OfType<ToolCallDelta>().ToList();
        Assert.Equal("a", pieces[0].Name);
        Assert.Equal("{\"s\":\"xy", string.Concat(pieces.Select(p => p.Arguments)));
        var finished = Assert.IsType<Finished>(updates[^1]);
        Assert.Null(finished.ToolCalls);
        Assert.Equal(FinishReason.Stop, finished.Reason);
    }

    [Fact]
    public async Task A_forced_answer_cut_before_any_call_piece_goes_out_as_text()
    {
        var plan = new ToolPlan(ToolChoice.Required, ToolCallFormat.HermesTags, Compile(several: false), null);
        var updates = await Run(plan, "{\"na", "me\":");

        Assert.Equal("{\"name\":", Text(updates));
        Assert.Empty(updates.OfType<ToolCallDelta>());
        Assert.Null(Assert.IsType<Finished>(updates[^1]).ToolCalls);
    }

    [Fact]
    public async Task Unconstrained_forced_answers_are_held_and_judged_at_the_end()
    {
        var plan = new ToolPlan(ToolChoice.Required, ToolCallFormat.HermesTags, Compile(several: false), null);
        var updates = new List<GenerationUpdate>();
        await foreach (var update in ToolCallStream.Translate(Answer(), plan, constrained: false, CancellationToken.None))
        {
            updates.Add(update);
        }

        // Nothing streamed as a call while the text was written: it might not have been one.
        Assert.Equal(3, updates.FindIndex(u => u is ToolCallDelta));
        Assert.Equal("b", Assert.Single(Assert.IsType<Finished>(updates[^1]).ToolCalls!).Name);

        static async IAsyncEnumerable<GenerationUpdate> Answer()
        {
            string[] chunks = ["{\"name\":\"b\",", "\"arguments\":", "{}}"];
            foreach (var chunk in chunks)
            {
                await Task.Yield();
                yield return new TextDelta(chunk, []);
            }

            yield return new Finished(FinishReason.Stop, 5, 3) { Structured = new StructuredOutputReport(true, 0, false, null) };
        }
    }

    [Fact]
    public async Task Held_text_that_opened_no_call_goes_out_at_the_end()
    {
        var plan = new ToolPlan(ToolChoice.Auto, ToolCallFormat.HermesTags, null, Compile(several: false));
        var updates = await Run(plan, "a <to", "y> b <tool");
        Assert.Equal("a <toy> b <tool", Text(updates));
        Assert.Null(Assert.IsType<Finished>(updates[^1]).ToolCalls);
    }

    [Theory]
    [InlineData(new[] { " ", "{\"name\": \"b\", ", "\"parameters\": {}}" }, "", "b")]
    [InlineData(new[] { " It is", " sunny." }, " It is sunny.", null)]
    public async Task Auto_in_the_Llama3_format_holds_an_answer_that_opens_as_json(string[] chunks, string text, string? call)
    {
        var plan = new ToolPlan(ToolChoice.Auto, ToolCallFormat.Llama3Json, null, Compile(several: false));
        var updates = await Run(plan, chunks);
        Assert.Equal(text, Text(updates));
        Assert.Equal(call, Assert.IsType<Finished>(updates[^1]).ToolCalls?.Single().Name);
    }
}
