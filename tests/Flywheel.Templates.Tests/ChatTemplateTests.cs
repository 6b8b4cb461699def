using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Templates;

namespace Flywheel.Templates.Tests;

/// <summary>The public API: inputs the template sees, errors with locations, limits, and the fallback.</summary>
public sealed class ChatTemplateTests
{
    private static string Render(string source, IReadOnlyDictionary<string, object?>? extra = null) =>
        ChatTemplate.Parse(source).Render([], false, extra: extra);

    [Fact]
    public void Fallback_writes_role_lines_then_the_assistant_prompt()
    {
        var messages = new[] { new ChatMessage("system", "Be brief."), new ChatMessage("user", "Hi {{ x }}") };

        Assert.Equal("system: Be brief.\nuser: Hi {{ x }}\nassistant: ", ChatTemplate.Fallback.Render(messages, addGenerationPrompt: true));
        Assert.Equal("system: Be brief.\nuser: Hi {{ x }}\n", ChatTemplate.Fallback.Render(messages, addGenerationPrompt: false));
    }

    [Fact]
    public void Template_sees_messages_generation_flag_and_special_tokens()
    {
        var template = ChatTemplate.Parse(
            "{{ bos_token }}{% for m in messages %}[{{ m.role }}|{{ m['content'] }}]{% endfor %}{{ add_generation_prompt }}{{ eos_token }}");

        Assert.Equal("<s>[user|hi]True</s>", template.Render([new ChatMessage("user", "hi")], true, "<s>", "</s>"));
        Assert.Equal("[user|hi]False", template.Render([new ChatMessage("user", "hi")], false));
    }

    [Fact]
    public void Unset_optional_message_fields_are_undefined()
    {
        var template = ChatTemplate.Parse(
            "{% for m in messages %}{{ m.name is defined }} {{ m.tool_calls is defined }} {{ m.reasoning_content is defined }} {{ m.tool_call_id | default('-') }};{% endfor %}");
        var messages = new[]
        {
            new ChatMessage("user", "a"),
            new ChatMessage("tool", "b") { Name = "f", ToolCallId = "call_1", ReasoningContent = "r", ToolCalls = [] },
        };

        Assert.Equal("False False False -;True True True call_1;", template.Render(messages, false));
    }

    [Fact]
    public void Tool_call_arguments_reach_the_template_as_a_dict_when_they_are_a_json_object()
    {
        var template = ChatTemplate.Parse(
            "{% for c in messages[0].tool_calls %}{{ c.id }} {{ c.type }} {{ c.function.name }} " +
            "{{ c.function.arguments is mapping }} {{ c.function.arguments | tojson }};{% endfor %}");
        var message = new ChatMessage("assistant", "")
        {
            ToolCalls = [new ChatToolCall("c1", "get", "{\"city\":\"Zürich\",\"n\":1.0}"), new ChatToolCall("c2", "raw", "not json")],
        };

        Assert.Equal(
            "c1 function get True {\"city\": \"Zürich\", \"n\": 1.0};c2 function raw False \"not json\";",
            template.Render([message], false));
    }

    [Fact]
    public void Extra_values_of_common_dotnet_types_are_converted()
    {
        var extra = new Dictionary<string, object?>
        {
            ["i"] = 3,
            ["d"] = 0.5,
            ["b"] = true,
            ["n"] = null,
            ["list"] = new[] { "x", "y" },
            ["dict"] = new Dictionary<string, object?> { ["k"] = new List<object?> { 1L, "v" } },
            ["json"] = JsonDocument.Parse("{\"a\": [1, 2.5, null, false]}").RootElement,
            ["node"] = JsonNode.Parse("{\"z\": {\"y\": \"w\"}}"),
        };

        Assert.Equal(
            "3 0.5 True None ['x', 'y'] {'k': [1, 'v']} {\"a\": [1, 2.5, null, false]} w",
            Render("{{ i }} {{ d }} {{ b }} {{ n }} {{ list }} {{ dict }} {{ json | tojson }} {{ node.z.y }}", extra));
    }

    [Fact]
    public void Extra_value_of_unsupported_type_is_an_error_naming_the_key()
    {
        var ex = Assert.Throws<TemplateException>(() => Render("x", new Dictionary<string, object?> { ["when"] = new Uri("http://x") }));

        Assert.Contains("extra['when']", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Raise_exception_keeps_the_template_message_and_location()
    {
        var ex = Assert.ThrowsAny<TemplateException>(() => Render("line 1\n  {{ raise_exception('Roles must alternate user/assistant') }}"));

        Assert.True(ex.RaisedByTemplate);
        Assert.Equal("Roles must alternate user/assistant", ex.Message);
        Assert.Equal(2, ex.Line);
        Assert.Equal(6, ex.Column);
    }

    [Theory]
    [InlineData("a\n{% if x %}\n  {% endfor %}", 3, 6, "endfor")]
    [InlineData("{{ x | nosuch }}", 1, 8, "unknown filter 'nosuch'")]
    [InlineData("{{ x is nosuch }}", 1, 9, "unknown test 'nosuch'")]
    [InlineData("ok\n\n{{ 'abc }}", 3, 4, "unterminated string")]
    [InlineData("{{ 1 + }}", 1, 8, "expected an expression")]
    [InlineData("{% include 'x' %}", 1, 4, "'include' tag is not supported")]
    [InlineData("{{ a ! b }}", 1, 6, "unexpected character '!'")]
    [InlineData("x\n{# never closed", 2, 1, "unclosed comment")]
    [InlineData("{% for x in y %}{% break %}{% endfor %}{% continue %}", 1, 43, "outside of a for loop")]
    public void Syntax_errors_name_line_and_column(string source, int line, int column, string reason)
    {
        var ex = Assert.Throws<TemplateSyntaxException>(() => ChatTemplate.Parse(source));

        Assert.Equal((line, column), (ex.Line, ex.Column));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"line {line}, column {column}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unclosed_block_error_names_the_opening_tag()
    {
        var ex = Assert.Throws<TemplateSyntaxException>(() => ChatTemplate.Parse("x\n  {% for m in messages %}\n{{ m }}"));

        Assert.Contains("the 'for' tag at line 2, column 3 is never closed", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ok\n{{ 1 / 0 }}", 2, "division by zero")]
    [InlineData("{% for m in messages %}\n{{ m.content + 1 }}{% endfor %}", 2, "unsupported operand type(s) for +: 'str' and 'int'")]
    [InlineData("\n\n{{ messages.append('x') }}", 3, "is unsafe")]
    [InlineData("{{ undefined_name + 1 }}", 1, "'undefined_name' is undefined")]
    [InlineData("{{ nope() }}", 1, "'nope' is undefined")]
    public void Render_errors_are_template_exceptions_with_a_location(string source, int line, string reason)
    {
        var template = ChatTemplate.Parse(source);

        var ex = Assert.ThrowsAny<TemplateException>(() => template.Render([new ChatMessage("user", "hi")], false));

        Assert.False(ex.RaisedByTemplate);
        Assert.Equal(line, ex.Line);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Runaway_macro_recursion_is_stopped()
    {
        var ex = Assert.ThrowsAny<TemplateException>(() => Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"));

        Assert.Contains("nested more than 64 deep", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Output_limit_is_enforced()
    {
        var limits = new TemplateLimits { MaxOutputChars = 1000 };
        var template = ChatTemplate.Parse("{% for i in range(200) %}0123456789{% endfor %}");

        var ex = Assert.Throws<TemplateException>(() => template.Render([], false, null, null, null, limits, TimeProvider.System));

        Assert.Contains("exceeds the limit of 1000 characters", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1000, template.Render([], false, null, null, null, new TemplateLimits { MaxOutputChars = 2000 }, TimeProvider.System).Length / 2);
    }

    [Fact]
    public void Huge_values_are_refused_before_they_are_built()
    {
        Assert.Contains("exceeds the limit", Assert.Throws<TemplateException>(() => Render("{{ 'x' * 1000000000 }}")).Message, StringComparison.Ordinal);
        Assert.Contains("too big", Assert.Throws<TemplateException>(() => Render("{{ range(10000000) }}")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Loop_iteration_limit_is_enforced()
    {
        var limits = new TemplateLimits { MaxLoopIterations = 10_000 };
        var template = ChatTemplate.Parse("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}");

        var ex = Assert.Throws<TemplateException>(() => template.Render([], false, null, null, null, limits, TimeProvider.System));

        Assert.Contains("more than 10000 loop iterations", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deeply_nested_source_is_a_syntax_error_not_a_stack_overflow()
    {
        var source = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";

        Assert.Contains("nested too deeply", Assert.Throws<TemplateSyntaxException>(() => ChatTemplate.Parse(source)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Strftime_now_formats_the_current_local_time()
    {
        var time = new FixedTime(new DateTimeOffset(2024, 7, 26, 9, 5, 3, TimeSpan.Zero));
        var template = ChatTemplate.Parse("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%Y-%m-%d %H:%M:%S %A %B %-d %I%p %j %%') }}");

        Assert.Equal("26 Jul 2024|2024-07-26 09:05:03 Friday July 26 09AM 208 %", template.Render([], false, null, null, null, TemplateLimits.Default, time));
    }

    [Fact]
    public void Rendering_is_thread_safe()
    {
        var template = ChatTemplate.Parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.content }}{% endfor %}{{ ns.n }}");
        var results = new string[64];

        Parallel.For(0, results.Length, i => results[i] = template.Render([new ChatMessage("user", i.ToString(System.Globalization.CultureInfo.InvariantCulture))], false));

        Assert.All(Enumerable.Range(0, results.Length), i => Assert.Equal($"{i}1", results[i]));
    }

    [Fact]
    public void Parse_keeps_the_source()
    {
        Assert.Equal("{{ 1 }}\n", ChatTemplate.Parse("{{ 1 }}\n").Source);
        Assert.Throws<ArgumentNullException>(() => ChatTemplate.Parse(null!));
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;
    }
}
