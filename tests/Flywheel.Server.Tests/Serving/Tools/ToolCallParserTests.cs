using Flywheel.Serving.Tools;

namespace Flywheel.Server.Tests.Serving.Tools;

/// <summary>Calls read out of answers in each family's format (tool_choice auto), and the format picked per template.</summary>
public sealed class ToolCallParserTests
{
    [Fact]
    public void Hermes_calls_are_read_after_the_text()
    {
        var answer = ToolCallParser.Parse("Checking both.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>", ToolCallFormat.HermesTags);
        Assert.Equal("Checking both.", answer.Content);
        Assert.Equal(["a", "b"], answer.Calls.Select(c => c.Name));
        Assert.Equal(["{\"x\": 1}", "{}"], answer.Calls.Select(c => c.Arguments));
    }

    [Fact]
    public void Text_between_and_after_Hermes_calls_is_content()
    {
        var answer = ToolCallParser.Parse("Checking.\n<tool_call>\n{\"name\":\"a\",\"arguments\":{}}\n</tool_call>\n<tool_call>\n{\"name\":\"b\",\"arguments\":{}}\n</tool_call>\nBoth asked; more soon.\n", ToolCallFormat.HermesTags);
        Assert.Equal(["a", "b"], answer.Calls.Select(c => c.Name));
        Assert.Equal("Checking.\n\nBoth asked; more soon.", answer.Content);
        answer = ToolCallParser.Parse("<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call> then <tool_call>{\"name\":\"b\",\"arguments\":{}}</tool_call>", ToolCallFormat.HermesTags);
        Assert.Equal("then", answer.Content);
    }

    [Fact]
    public void A_Hermes_call_that_ended_the_answer_needs_no_closing_tag()
    {
        var answer = ToolCallParser.Parse("<tool_call>\n{\"name\":\"a\",\"arguments\":{}}", ToolCallFormat.HermesTags);
        Assert.Equal("", answer.Content);
        Assert.Equal("a", Assert.Single(answer.Calls).Name);
    }

    [Theory]
    [InlineData("no calls here")]
    [InlineData("<tool_call>{\"name\": \"a\"}</tool_call>")]                                  // no arguments
    [InlineData("<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call><tool_call>{oops</tool_call>")] // one unreadable call
    public void Hermes_answers_with_unreadable_calls_are_text(string text)
    {
        var answer = ToolCallParser.Parse(text, ToolCallFormat.HermesTags);
        Assert.Empty(answer.Calls);
        Assert.Equal(text, answer.Content);
    }

    [Theory]
    [InlineData("{\"name\": \"a\", \"parameters\": {\"x\": 1}}", "a")]
    [InlineData("<|python_tag|>{\"name\": \"a\", \"parameters\": {}}", "a")]
    [InlineData(" {\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"y\": \"z\"}}", "a,b")]
    public void Llama3_answers_that_are_json_calls_are_calls(string text, string names)
    {
        var answer = ToolCallParser.Parse(text, ToolCallFormat.Llama3Json);
        Assert.Equal(names.Split(','), answer.Calls.Select(c => c.Name));
        Assert.Equal("", answer.Content);
    }

    [Theory]
    [InlineData("The answer is {\"name\": \"a\"}")]
    [InlineData("{\"temperature\": 18}")]
    [InlineData("{\"name\": \"a\", \"parameters\": {}} and more")]
    public void Other_Llama3_answers_are_text(string text) => Assert.Empty(ToolCallParser.Parse(text, ToolCallFormat.Llama3Json).Calls);

    [Theory]
    [InlineData("{%- if tools %}<tool_call>\\n{{ tool_call | tojson }}\\n</tool_call>{% endif %}", ToolCallFormat.HermesTags)]
    [InlineData("{{- '<|python_tag|>' + tool_call.name }}{% if message.role == 'ipython' %}", ToolCallFormat.Llama3Json)]
    [InlineData("Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.", ToolCallFormat.Llama3Json)]
    [InlineData("{% for message in messages %}{{ message.content }}{% endfor %}", ToolCallFormat.HermesTags)]
    public void The_format_follows_the_template(string template, ToolCallFormat expected) =>
        Assert.Equal(expected, ToolCallFormats.Detect(template));
}
