using System.Text;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The validator against hostile schemas and instances: references that leave the document,
/// patterns that backtrack, numbers wider than any .NET type, deep nesting, and keywords beside a $ref.
/// </summary>
public sealed class ValidatorHardeningTests
{
    [Theory]
    [InlineData("http://127.0.0.1:9/probe.json")]
    [InlineData("https://example.com/schema.json#/definitions/a")]
    [InlineData("file:///etc/passwd")]
    [InlineData("other.json")]
    [InlineData("../other.json#/$defs/a")]
    [InlineData("other.json#anchor")]
    [InlineData("#anchor")]
    public void References_that_leave_the_document_are_refused_up_front_even_when_unused(string reference)
    {
        var schema = """{"type":"object","$defs":{"x":{"$ref":""" + "\"" + reference + "\"}}}";
        foreach (var create in new Action[] { () => JsonSchemaValidator.Create(schema), () => JsonSchemaGrammar.Compile(schema) })
        {
            var e = Assert.Throws<SchemaCompileException>(create);
            Assert.Equal("$ref", e.Keyword);
            Assert.Equal("#/$defs/x", e.Pointer);
        }
    }

    [Fact]
    public void A_reference_deep_in_a_schema_is_named_by_its_pointer()
    {
        var schema = """{"properties":{"a b":{"items":[{},{"anyOf":[{"$ref":"file:///etc/passwd"}]}]}}}""";
        var e = Assert.Throws<SchemaCompileException>(() => JsonSchemaValidator.Create(schema));
        Assert.Equal("#/properties/a b/items/1/anyOf/0", e.Pointer);
    }

    [Fact]
    public void Local_references_still_resolve()
    {
        var schema = """{"$defs":{"n":{"type":"integer"}},"definitions":{"s":{"type":"string"}},"properties":{"a":{"$ref":"#/$defs/n"},"b":{"$ref":"#/definitions/s"},"c":{"$ref":"#"}}}""";
        var v = JsonSchemaValidator.Create(schema);
        _ = JsonSchemaGrammar.Compile("""{"$defs":{"n":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/n"}}}""");
        Assert.Empty(v.Validate("""{"a":1,"b":"x","c":{"a":2}}"""));
        Assert.NotEmpty(v.Validate("""{"a":"x"}"""));
        Assert.NotEmpty(v.Validate("""{"b":1}"""));
        Assert.NotEmpty(v.Validate("""{"c":{"a":"x"}}"""));
    }

    [Fact]
    public void Keywords_beside_a_ref_are_checked()
    {
        var v = JsonSchemaValidator.Create("""{"$defs":{"s":{"type":"string"}},"type":"object","properties":{"p":{"$ref":"#/$defs/s","maxLength":2}}}""");
        Assert.Empty(v.Validate("""{"p":"ab"}"""));
        Assert.NotEmpty(v.Validate("""{"p":"abc"}"""));
        Assert.NotEmpty(v.Validate("""{"p":1}"""));
    }

    [Fact]
    public async Task Catastrophic_patterns_are_matched_without_backtracking()
    {
        // A backtracking engine needs ~2^50 steps for this; the answer must come in milliseconds
        // (the budget is generous so a loaded machine never flakes; a backtracking engine never finishes).
        var instance = "\"" + new string('a', 50) + "b\"";
        var pattern = JsonSchemaValidator.Create("""{"type":"string","pattern":"^(a+)+$"}""");
        var properties = JsonSchemaValidator.Create("""{"type":"object","patternProperties":{"^(a+)+$":{"type":"integer"}},"additionalProperties":false}""");
        var run = Task.Run(() => (pattern.Validate(instance), properties.Validate("{" + instance + ":1}")));
        var (patternErrors, propertyErrors) = await run.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.NotEmpty(patternErrors);
        Assert.NotEmpty(propertyErrors);
        Assert.Empty(pattern.Validate("\"aaaa\""));
        Assert.Empty(properties.Validate("""{"aaa":1}"""));
        Assert.NotEmpty(properties.Validate("""{"aaa":"x"}"""));
    }

    [Fact]
    public void Pattern_properties_apply_beside_properties_and_decide_what_is_additional()
    {
        var v = JsonSchemaValidator.Create("""{"properties":{"x_a":{"type":"integer"}},"patternProperties":{"^x_":{"minimum":0}},"additionalProperties":{"type":"string"}}""");
        Assert.Empty(v.Validate("""{"x_a":1,"x_b":2,"other":"s"}"""));
        Assert.NotEmpty(v.Validate("""{"x_a":-1}"""));
        Assert.NotEmpty(v.Validate("""{"x_b":-1}"""));
        Assert.NotEmpty(v.Validate("""{"other":1}"""));
    }

    [Theory]
    [InlineData("^\\\\d+$", "\"123\"", true)]
    [InlineData("^\\\\d+$", "\"١٢\"", false)]
    [InlineData("^\\\\d+$", "\"12\\n\"", false)]
    [InlineData("^[\\\\w-]+$", "\"a_b-c\"", true)]
    [InlineData("^\\\\w+$", "\"é\"", false)]
    [InlineData("^a.c$", "\"abc\"", true)]
    [InlineData("^a.c$", "\"a\\rc\"", false)]
    [InlineData("^a\\\\.c", "\"a.cd\"", true)]
    [InlineData("^a\\\\.c", "\"abc\"", false)]
    [InlineData("\\\\bcat\\\\b", "\"écat\"", true)]
    [InlineData("\\\\bcat\\\\b", "\"concat\"", false)]
    [InlineData("^(?!rpc\\\\.)", "\"rpc.x\"", false)]
    [InlineData("^(?!rpc\\\\.)", "\"rpcx\"", true)]
    public void Patterns_mean_what_they_mean_in_ECMA_262(string pattern, string instance, bool valid)
    {
        var v = JsonSchemaValidator.Create("""{"pattern":""" + "\"" + pattern + "\"}");
        Assert.Equal(valid, v.Validate(instance).Count == 0);
    }

    [Theory]
    [InlineData("(a)\\\\1", "pattern")]
    [InlineData("a(?=b)", "pattern")]
    [InlineData("(?<!a)b", "pattern")]
    [InlineData("^(?=a)", "pattern")]
    [InlineData("a\\\\b.*b", "pattern")]
    public void Patterns_that_need_backtracking_are_refused_naming_the_keyword(string pattern, string keyword)
    {
        var e = Assert.Throws<SchemaCompileException>(() => JsonSchemaValidator.Create("""{"properties":{"a":{"pattern":""" + "\"" + pattern + "\"}}}"));
        Assert.Equal(keyword, e.Keyword);
        Assert.Equal("#/properties/a", e.Pointer);
        var p = Assert.Throws<SchemaCompileException>(() => JsonSchemaValidator.Create("""{"patternProperties":{""" + "\"" + pattern + "\":{}}}"));
        Assert.Equal("patternProperties", p.Keyword);
    }

    [Theory]
    [InlineData("""{"type":"integer","minimum":0}""", "123456789012345678901234567890123456789", true)]
    [InlineData("""{"type":"integer","minimum":0}""", "-123456789012345678901234567890123456789", false)]
    [InlineData("""{"maximum":100000000000000000000000000000}""", "100000000000000000000000000000", true)]
    [InlineData("""{"maximum":100000000000000000000000000000}""", "100000000000000000000000000001", false)]
    [InlineData("""{"exclusiveMaximum":100000000000000000000000000000}""", "100000000000000000000000000000", false)]
    [InlineData("""{"minimum":0.1}""", "0.1000000000000000000000000000000001", true)]
    [InlineData("""{"minimum":0.1}""", "0.0999999999999999999999999999999999", false)]
    [InlineData("""{"exclusiveMinimum":0.1}""", "1e-1", false)]
    [InlineData("""{"minimum":0.01}""", "0", false)]
    [InlineData("""{"minimum":-5,"exclusiveMinimum":true}""", "-5", false)]
    [InlineData("""{"maximum":1e2}""", "100.0", true)]
    [InlineData("""{"maximum":1e2}""", "1.0000000000000000000000001e2", false)]
    [InlineData("""{"multipleOf":0.01}""", "0.07", true)]
    [InlineData("""{"multipleOf":0.01}""", "0.075", false)]
    [InlineData("""{"multipleOf":3}""", "300000000000000000000000000000000000000000003", true)]
    [InlineData("""{"type":"number"}""", "1e400", true)]
    [InlineData("""{"type":"integer"}""", "123456789012345678901234567890123456789", true)]
    public void Numbers_are_compared_exactly_without_throwing(string schema, string instance, bool valid)
    {
        var errors = JsonSchemaValidator.Create(schema).Validate(instance);
        Assert.True(valid == (errors.Count == 0), string.Join("; ", errors));
    }

    [Fact]
    public void Numbers_beyond_what_it_can_judge_are_an_error_entry_not_a_throw()
    {
        var errors = JsonSchemaValidator.Create("""{"minimum":0}""").Validate("1e999999");
        Assert.Contains(errors, e => e.Message.Contains("cannot judge", StringComparison.Ordinal));
    }

    [Fact]
    public void Deep_instances_are_an_error_entry_not_a_crash()
    {
        var v = JsonSchemaValidator.Create("""{"items":{"$ref":"#"}}""");
        var deep = new StringBuilder().Insert(0, "[", 100_000).Append(']', 100_000).ToString();
        Assert.Contains(v.Validate(deep), e => e.Message.Contains("deeper", StringComparison.Ordinal));
        var fine = new StringBuilder().Insert(0, "[", 40).Append(']', 40).ToString();
        Assert.Empty(v.Validate(fine));
    }

    [Theory]
    [InlineData("""{"$defs":{"a":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}""")]
    [InlineData("""{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}],"type":"integer"},"b":{"not":{"$ref":"#/$defs/a"}}},"$ref":"#/$defs/a"}""")]
    public void A_schema_that_recurses_without_consuming_the_instance_is_an_error_entry(string schema)
    {
        // No test before the bound: without it this overflowed the stack and killed the test host.
        var validator = JsonSchemaValidator.Create(schema);
        IReadOnlyList<JsonValidationError> errors = [];
        var thread = new Thread(() => errors = validator.Validate("1"), maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        Assert.Contains(errors, e => e.Message.Contains("deeper than", StringComparison.Ordinal));
    }

    [Fact]
    public void A_duplicated_key_is_judged_by_its_last_value_as_clients_parse_it()
    {
        var v = JsonSchemaValidator.Create("""{"properties":{"a":{"type":"integer"}}}""");
        Assert.Empty(v.Validate("""{"a":"x","a":1}"""));
        Assert.NotEmpty(v.Validate("""{"a":1,"a":"x"}"""));
    }

    [Fact]
    public void A_lone_surrogate_is_judged_not_thrown()
    {
        var v = JsonSchemaValidator.Create("""{"type":"string","maxLength":0}""");
        Assert.Null(Record.Exception(() => v.Validate("\"\\ud800\"")));
    }
}
