using System.Text;
using Flywheel.Serving.Tools;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.Tools;

/// <summary>
/// tool_choice auto's constraint over a small vocabulary: one token per printable ASCII character, plus
/// "tool", "&lt;tool_call&gt;", "&gt;{" (which would complete the marker and run past it), "\n" and an end-of-sequence token.
/// </summary>
public sealed class ToolCallTriggerTests
{
    private static readonly string[] Pieces = [.. Enumerable.Range(32, 95).Select(c => ((char)c).ToString()), "tool", "<tool_call>", ">{", "\n"];
    private static readonly int Eos = Pieces.Length;
    private static readonly TokenVocabulary Vocabulary =
        TokenVocabulary.Create([.. Pieces.Select(p => (byte[]?)Encoding.UTF8.GetBytes(p)), null], [Eos]);

    private static readonly string CallSchema = ToolCallSchema.Build(
        [new ToolDefinition("f", null, """{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}""")], several: false);

    private static readonly JsonSchemaGrammar Grammar = JsonSchemaGrammar.Compile(CallSchema, new JsonSchemaCompileOptions { MaxWhitespace = 0 });

    private static int Id(string piece) => Array.IndexOf(Pieces, piece);

    private static bool Allowed(ToolCallTrigger trigger, int token)
    {
        var mask = new uint[trigger.MaskLength];
        trigger.ComputeMask(mask);
        return MarkerTable.Has(mask, token);
    }

    private static void Write(ToolCallTrigger trigger, string text)
    {
        foreach (var c in text)
        {
            var token = Id(c.ToString());
            Assert.True(Allowed(trigger, token), $"'{c}' not allowed");
            Assert.True(trigger.TryAccept(token), $"'{c}' refused");
        }
    }

    [Fact]
    public void Text_is_free_until_the_marker_then_the_call_is_held_to_its_schema()
    {
        var trigger = new ToolCallTrigger(Grammar, Vocabulary, maxTokens: 200);
        Write(trigger, "Let me check. <tool_call");
        Assert.False(trigger.InCall);
        Assert.False(Allowed(trigger, Id(">{")));     // would open the call and start it inside one token
        Assert.False(trigger.TryAccept(Id(">{")));
        Assert.True(Allowed(trigger, Id("a")));       // text may still go on
        Assert.True(trigger.TryAccept(Id(">")));
        Assert.True(trigger.InCall);

        // One line break may come first; then only the call: {"name":"f","arguments":{"x":<integer>}}.
        Assert.True(Allowed(trigger, Id("\n")));
        Assert.False(Allowed(trigger, Id("a")));
        Assert.True(trigger.TryAccept(Id("\n")));
        Assert.False(Allowed(trigger, Id("\n")));
        Write(trigger, """{"name":"f","arguments":{"x":""");
        Assert.False(Allowed(trigger, Id("\"")));     // x is an integer
        Write(trigger, "42}}");
        Assert.False(trigger.IsFinished);
        Assert.True(Allowed(trigger, Eos));
        Assert.True(trigger.TryAccept(Eos));
        Assert.True(trigger.IsFinished);
    }

    [Fact]
    public void The_marker_as_one_token_opens_the_call()
    {
        var trigger = new ToolCallTrigger(Grammar, Vocabulary, maxTokens: 200);
        Write(trigger, "ok ");
        Assert.True(trigger.TryAccept(Id("<tool_call>")));
        Assert.True(trigger.InCall);
        Assert.True(Allowed(trigger, Id("{")));
        Assert.False(Allowed(trigger, Id("<tool_call>")));
    }

    [Fact]
    public void A_call_that_could_not_close_within_max_tokens_cannot_open()
    {
        var minimum = Grammar.MinimumTokens(Vocabulary)!.Value;
        var trigger = new ToolCallTrigger(Grammar, Vocabulary, maxTokens: minimum + 3);
        Write(trigger, "ab");
        Assert.True(Allowed(trigger, Id("<tool_call>")));   // leaves minimum + 0 after it
        Write(trigger, "c");
        Assert.False(Allowed(trigger, Id("<tool_call>")));  // would leave minimum - 1
        Assert.True(Allowed(trigger, Id("d")));
    }

    [Fact]
    public void Text_that_only_resembles_the_marker_stays_text()
    {
        var trigger = new ToolCallTrigger(Grammar, Vocabulary, maxTokens: 200);
        Write(trigger, "<tool_cal> <<tool_call");
        Assert.False(trigger.InCall);
        Assert.True(trigger.TryAccept(Id(">")));
        Assert.True(trigger.InCall);
    }

    [Fact]
    public void With_parallel_calls_a_closed_call_hands_back_to_free_text_and_the_next_call_is_held_too()
    {
        var trigger = new ToolCallTrigger(Grammar, Vocabulary, maxTokens: 200, several: true);
        Write(trigger, "<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1}}");
        Assert.True(Allowed(trigger, Eos));
        Assert.True(Allowed(trigger, Id("\n")));   // the closing tag, after a line break or not
        Assert.True(Allowed(trigger, Id("<")));
        Assert.False(Allowed(trigger, Id("a")));
        Write(trigger, "\n</tool");
        Assert.False(Allowed(trigger, Id(">")));    // the tag is written exactly
        Write(trigger, "_call>");
        Assert.False(trigger.InCall);
        Assert.True(Allowed(trigger, Id("a")));     // free again
        Write(trigger, "\n<tool_call>");
        Assert.True(trigger.InCall);
        Assert.False(Allowed(trigger, Id("a")));
        Write(trigger, "{\"name\":\"f\",\"arguments\":{\"x\":2}}");
        Assert.True(trigger.TryAccept(Eos));
        Assert.True(trigger.IsFinished);
    }

    [Fact]
    public void Without_parallel_calls_a_complete_call_ends_the_answer()
    {
        var trigger = new ToolCallTrigger(Grammar, Vocabulary, maxTokens: 200, several: false);
        Write(trigger, "<tool_call>{\"name\":\"f\",\"arguments\":{\"x\":1}}");
        Assert.True(Allowed(trigger, Eos));
        Assert.False(Allowed(trigger, Id("\n")));
        Assert.False(Allowed(trigger, Id("<")));
    }
}
