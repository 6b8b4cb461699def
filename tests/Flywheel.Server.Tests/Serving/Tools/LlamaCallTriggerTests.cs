using System.Text;
using Flywheel.Serving.Tools;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.Tools;

/// <summary>
/// tool_choice auto's constraint in the Llama-3 JSON format over a small vocabulary: one token per printable ASCII
/// character, plus "{\"" and " {" (a brace after a space), the python tag spelled in pieces ("&lt;|", "python_tag",
/// "|&gt;", and "|&gt;{" which would end it and run on), separators ("; ", ";{"), "\n", a python-tag special token
/// (no bytes) and an end-of-sequence token.
/// </summary>
public sealed class LlamaCallTriggerTests
{
    private static readonly string[] Pieces =
        [.. Enumerable.Range(32, 95).Select(c => ((char)c).ToString()), "{\"", " {", "<|", "python_tag", "|>", "|>{", "; ", ";{", "\n"];
    private static readonly int PythonTag = Pieces.Length;
    private static readonly int Eos = Pieces.Length + 1;
    private static readonly TokenVocabulary Vocabulary =
        TokenVocabulary.Create([.. Pieces.Select(p => (byte[]?)Encoding.UTF8.GetBytes(p)), null, null], [Eos]);

    private static readonly ToolDefinition[] Tools =
        [new("f", null, """{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"],"additionalProperties":false}""")];

    private static readonly JsonSchemaGrammar Grammar =
        JsonSchemaGrammar.Compile(ToolCallSchema.Build(Tools, several: false, argumentsKey: "parameters"), new JsonSchemaCompileOptions { MaxWhitespace = 0 });

    private static int Id(string piece) => Array.IndexOf(Pieces, piece);

    private static LlamaCallTrigger Trigger(int maxTokens = 200, bool several = false, bool mustCall = false) =>
        new(Grammar, Vocabulary, maxTokens, PythonTag, several, mustCall);

    private static bool Allowed(LlamaCallTrigger trigger, int token)
    {
        var mask = new uint[trigger.MaskLength];
        trigger.ComputeMask(mask);
        return MarkerTable.Has(mask, token);
    }

    private static void Write(LlamaCallTrigger trigger, params string[] pieces)
    {
        foreach (var piece in pieces.SelectMany(p => Id(p) >= 0 ? [p] : p.Select(c => c.ToString())))
        {
            var token = Id(piece);
            Assert.True(Allowed(trigger, token), $"'{piece}' not allowed");
            Assert.True(trigger.TryAccept(token), $"'{piece}' refused");
        }
    }

    [Fact]
    public void An_answer_opening_with_a_brace_is_held_to_a_call_of_a_declared_tool()
    {
        var trigger = Trigger();
        Write(trigger, "\n");                          // leading whitespace changes nothing
        Assert.False(trigger.InCall);
        Assert.False(Allowed(trigger, Id(" {")));      // a call opens on a token that begins with '{'
        Write(trigger, "{\"");
        Assert.True(trigger.InCall);
        Write(trigger, "name\":\"");
        Assert.False(Allowed(trigger, Id("g")));       // only the declared function
        Write(trigger, "f\",\"");
        Assert.False(Allowed(trigger, Id("a")));       // its arguments are "parameters", as Llama-3 writes them
        Write(trigger, "parameters\":{\"x\":");
        Assert.False(Allowed(trigger, Id("\"")));      // x is an integer
        Write(trigger, "42}}");
        Assert.True(Allowed(trigger, Eos));
        Assert.False(Allowed(trigger, Id("; ")));      // one call only without parallel calls
        Assert.True(trigger.TryAccept(Eos));
        Assert.True(trigger.IsFinished);
    }

    [Fact]
    public void A_text_answer_stays_free_and_a_brace_later_is_text()
    {
        var trigger = Trigger();
        Assert.True(Allowed(trigger, Id("I")));
        Assert.True(Allowed(trigger, Id("{")));        // would open a call
        Assert.False(Allowed(trigger, Id(" {")));      // a brace that could not open a valid one
        Write(trigger, "It is {");
        Assert.True(trigger.IsText);
        Assert.True(Allowed(trigger, Id("}")));
        Assert.True(Allowed(trigger, Id("|>{")));
        Assert.True(Allowed(trigger, Eos));
    }

    [Fact]
    public void The_python_tag_opens_a_call_as_a_special_token_or_spelled_out()
    {
        var special = Trigger();
        Assert.True(Allowed(special, PythonTag));
        Assert.True(special.TryAccept(PythonTag));
        Assert.True(special.InCall);
        Assert.True(Allowed(special, Id("\n")));       // one line break may come first
        Assert.False(Allowed(special, Id("a")));
        Assert.False(Allowed(special, Eos));
        Write(special, "\n", "{\"name\":\"f\",\"parameters\":{\"x\":1}}");
        Assert.True(special.TryAccept(Eos));

        var spelled = Trigger();
        Write(spelled, " ", "<|", "python_tag");
        Assert.False(spelled.InCall);
        Assert.False(Allowed(spelled, Id("|>{")));     // the tag ends on a token boundary
        Assert.True(Allowed(spelled, Id("a")));        // or it was text after all
        Write(spelled, "|>");
        Assert.True(spelled.InCall);
        Assert.False(Allowed(spelled, Id("a")));

        var diverted = Trigger();
        Write(diverted, "<|", "p", "y");
        Assert.False(diverted.IsText);
        Write(diverted, "x");
        Assert.True(diverted.IsText);
    }

    [Fact]
    public void With_parallel_calls_a_separator_leads_to_the_next_held_call()
    {
        var trigger = Trigger(several: true);
        Write(trigger, "{\"name\":\"f\",\"parameters\":{\"x\":1}}");
        Assert.True(Allowed(trigger, Eos));
        Assert.True(Allowed(trigger, Id("; ")));
        Assert.True(Allowed(trigger, Id(";")));
        Assert.False(Allowed(trigger, Id(";{")));      // the next call opens on a token of its own
        Assert.False(Allowed(trigger, Id("a")));
        Write(trigger, "; ");
        Assert.False(Allowed(trigger, Eos));           // a call must follow
        Assert.False(Allowed(trigger, Id("a")));
        Write(trigger, "{\"name\":\"f\",\"parameters\":{\"x\":2}}");
        Assert.True(trigger.TryAccept(Eos));
        Assert.True(trigger.IsFinished);
    }

    [Fact]
    public void A_call_that_could_not_close_within_max_tokens_cannot_open()
    {
        var minimum = Grammar.MinimumTokens(Vocabulary)!.Value;
        var trigger = Trigger(maxTokens: minimum + 2);
        Write(trigger, " ");
        Assert.True(Allowed(trigger, PythonTag));      // leaves minimum after it
        Assert.True(Allowed(trigger, Id("{\"")));
        Write(trigger, " ");
        Assert.False(Allowed(trigger, PythonTag));     // would leave minimum - 1
        Assert.True(Allowed(trigger, Id("{\"")));      // the call's own first token still fits
        Write(trigger, " ");
        Assert.False(Allowed(trigger, Id("{\"")));
        Assert.True(Allowed(trigger, Id("a")));        // text, then
    }

    [Fact]
    public void A_repair_turn_must_be_a_call_from_its_first_token()
    {
        var trigger = Trigger(mustCall: true);
        Assert.True(trigger.InCall);
        Assert.False(Allowed(trigger, Id("a")));
        Assert.False(Allowed(trigger, Eos));
        Write(trigger, "{\"name\":\"f\",\"parameters\":{\"x\":3}}");
        Assert.True(trigger.TryAccept(Eos));
        Assert.Throws<ArgumentOutOfRangeException>(() => Trigger(maxTokens: Grammar.MinimumTokens(Vocabulary)!.Value - 1, mustCall: true));
    }
}
