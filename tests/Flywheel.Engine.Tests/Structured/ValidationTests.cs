using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

public sealed class ValidationTests
{
    private const string Person = """
        {"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}
        """;

    [Theory]
    [InlineData("unevaluatedProperties", "{\"required\":[\"a\"]}")]
    [InlineData("unevaluatedItems", "{\"minItems\":1}")]
    public void A_long_reference_chain_beside_an_unevaluated_keyword_is_refused_not_walked(string keyword, string last)
    {
        // Whether the applicator's subschema evaluates anything is found by following the chain: followed to its end,
        // 100,000 links overflowed the stack (recursion) and then took minutes (each link looked up from the root).
        const int Links = 100_000;
        var defs = string.Join(",", Enumerable.Range(0, Links).Select(i => $"\"d{i}\":{{\"$ref\":\"#/$defs/d{i + 1}\"}}"));
        var schema = $"{{\"$defs\":{{{defs},\"d{Links}\":{last}}},\"anyOf\":[{{\"$ref\":\"#/$defs/d0\"}}],\"{keyword}\":false}}";
        var refused = Assert.Throws<SchemaCompileException>(() => JsonSchemaValidator.Create(schema));
        Assert.Equal(keyword, refused.Keyword);
        Assert.Contains($"more than {UnevaluatedScope.MaxReferences} references", refused.Message, StringComparison.Ordinal);

        // A chain within the limit is followed to its end: the last link only requires, so the keyword compiles.
        var shortDefs = string.Join(",", Enumerable.Range(0, 100).Select(i => $"\"d{i}\":{{\"$ref\":\"#/$defs/d{i + 1}\"}}"));
        var shortChain = $"{{\"$defs\":{{{shortDefs},\"d100\":{last}}},\"anyOf\":[{{\"$ref\":\"#/$defs/d0\"}}],\"{keyword}\":false}}";
        Assert.NotNull(JsonSchemaValidator.Create(shortChain));
    }

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
        var counted = JsonSchemaValidator.Create("""{"contains":{"type":"string"},"minContains":2,"maxContains":3}""");
        Assert.Empty(counted.Validate("""["a","b",1]"""));
        Assert.NotEmpty(counted.Validate("""["a",1]"""));
        Assert.NotEmpty(counted.Validate("""["a","b","c","d"]"""));
        Assert.Empty(JsonSchemaValidator.Create("""{"contains":{"type":"string"},"minContains":0}""").Validate("[1]"));
        // unevaluatedItems beside contains: which items contains evaluates depends on the instance.
        Assert.Throws<SchemaCompileException>(() => JsonSchemaValidator.Create("""{"type":"array","contains":{"type":"string"},"unevaluatedItems":false}"""));
    }
    [Fact]
    public void Numbers_with_a_zero_fraction_are_integers()
    {
        // Since draft 6 an integer is a number with no fractional part, however it is written.
        const string Draft = "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\"";
        var v = JsonSchemaValidator.Create($$"""{{{Draft}},"type":"integer","maximum":10}""");
        Assert.Empty(v.Validate("1.0"));
        Assert.Empty(v.Validate("1e1"));
        Assert.Empty(v.Validate("-2.50e1"));
        Assert.NotEmpty(v.Validate("1.5"));
        Assert.NotEmpty(v.Validate("1.0e2"));
        Assert.Empty(JsonSchemaValidator.Create($$"""{{{Draft}},"enum":[1]}""").Validate("1.0"));
        Assert.NotEmpty(JsonSchemaValidator.Create($$"""{{{Draft}},"uniqueItems":true}""").Validate("[1,1.0]"));

        // Drafts 3 and 4, and a schema naming no draft, keep integers written without a fraction.
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"type":"integer"}""").Validate("1.0"));
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"$schema":"http://json-schema.org/draft-04/schema#","type":"integer"}""").Validate("1.0"));
    }

    [Fact]
    public void Counts_written_with_a_zero_fraction_load()
    {
        // The grammar reads 1.0 as the count 1; the validator must not refuse what the grammar compiles.
        foreach (var (keyword, valid, invalid) in new[] { ("minItems", "[1]", "[]"), ("maxItems", "[1]", "[1,2]"), ("minProperties", """{"a":1}""", "{}"), ("maxProperties", """{"a":1}""", """{"a":1,"b":2}""") })
        {
            var v = JsonSchemaValidator.Create($$"""{"{{keyword}}":1.0}""");
            Assert.Empty(v.Validate(valid));
            Assert.NotEmpty(v.Validate(invalid));
        }
    }
    [Fact]
    public void Enum_and_const_compare_JSON_values()
    {
        var o = JsonSchemaValidator.Create("""{"const":{"a":1,"b":[1,{"c":2,"d":3}]}}""");
        Assert.Empty(o.Validate("""{"b":[1,{"d":3,"c":2}],"a":1}"""));
        Assert.NotEmpty(o.Validate("""{"b":[{"d":3,"c":2},1],"a":1}"""));
        Assert.NotEmpty(o.Validate("""{"a":1,"b":[1,{"c":2,"d":3}],"e":0}"""));
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"enum":["1"]}""").Validate("1"));
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"const":true}""").Validate("\"True\""));
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"const":null}""").Validate("\"\""));

        // Numbers are equal by value; a float equals an integer only as far as a double tells them apart.
        var n = JsonSchemaValidator.Create("""{"const":9007199254740992}""");
        Assert.Empty(n.Validate("9007199254740992"));
        Assert.Empty(n.Validate("9007199254740992.0"));
        Assert.NotEmpty(n.Validate("9007199254740991.0"));
        Assert.NotEmpty(n.Validate("9007199254740991"));
        Assert.Empty(JsonSchemaValidator.Create("""{"const":-2.0}""").Validate("-2"));
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"const":-2.0}""").Validate("-2.00001"));
        var big = JsonSchemaValidator.Create("""{"enum":[123456789012345678901234567890]}""");
        Assert.Empty(big.Validate("123456789012345678901234567890"));
        Assert.NotEmpty(big.Validate("123456789012345678901234567891"));
    }
    [Fact]
    public void UniqueItems_compares_JSON_values()
    {
        var u = JsonSchemaValidator.Create("""{"uniqueItems":true}""");
        Assert.NotEmpty(u.Validate("""[{"a":1,"b":2},{"b":2,"a":1}]"""));
        Assert.NotEmpty(u.Validate("""[[1,{"x":null}],[1,{"x":null}]]"""));
        Assert.Empty(u.Validate("""[{},[1],true,null,1,"{}","1","true","null"]"""));
        Assert.Empty(u.Validate("""[0,false,[0],[false],{"a":0},{"a":false}]"""));
        Assert.Empty(u.Validate("""["a","b","A"]"""));
        Assert.NotEmpty(u.Validate("""["a","b","a"]"""));
        Assert.Empty(u.Validate("""[123456789012345678901234567890,1.5,123456789012345678901234567891]"""));
        Assert.NotEmpty(u.Validate("""[123456789012345678901234567890,123456789012345678901234567890]"""));
        Assert.NotEmpty(JsonSchemaValidator.Create("""{"enum":[1.5]}""").Validate("123456789012345678901234567890"));
    }
}
