using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>What the compiler cannot honour exactly is refused, naming keyword and pointer.</summary>
public sealed class SchemaRefusalTests
{
    [Theory]
    [InlineData("""{"type":"array","uniqueItems":true}""", "uniqueItems", "#")]
    [InlineData("""{"properties":{"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true}}}""", "uniqueItems", "#/properties/tags")]
    [InlineData("""{"type":"array","items":{"enum":["a","b"]},"minItems":3,"uniqueItems":true}""", "uniqueItems", "#")]
    [InlineData("""{"type":"array","items":{"enum":[1,2,3,4,5,6,7,8,9,10,11,12,13]},"maxItems":2,"uniqueItems":true}""", "uniqueItems", "#")]
    [InlineData("""{"type":"array","items":{"enum":[1,2,3,4,5,6,7,8,9,10,11]},"uniqueItems":true}""", "uniqueItems", "#")]
    [InlineData("""{"type":"array","prefixItems":[{"type":"boolean"}],"items":{"type":"boolean"},"uniqueItems":true}""", "uniqueItems", "#")]
    [InlineData("""{"properties":{"a":{"not":{"type":"string","minLength":2}}}}""", "not", "#/properties/a")]
    [InlineData("""{"not":{"type":"integer"}}""", "not", "#")]
    [InlineData("""{"not":{"enum":[1,2]}}""", "not", "#")]
    [InlineData("""{"type":"object","dependentSchemas":{"a":{"not":{"pattern":"x"}}}}""", "not", "#/dependentSchemas/a")]
    [InlineData("""{"type":"string","format":"hostname"}""", "format", "#")]
    [InlineData("""{"type":"integer","multipleOf":100003}""", "multipleOf", "#")]
    [InlineData("""{"allOf":[{"multipleOf":2},{"multipleOf":0.5}]}""", "multipleOf", "#")]
    [InlineData("""{"items":{"if":{"type":"string","minLength":2},"then":{"maxLength":5}}}""", "if", "#/items")]
    [InlineData("""{"type":"object","propertyNames":{"anyOf":[{"maxLength":2},{"pattern":"^x"}]}}""", "propertyNames", "#")]
    [InlineData("""{"type":"object","additionalProperties":{"type":"integer"},"minProperties":2}""", "minProperties", "#")]
    [InlineData("""{"type":"object","properties":{"a":{}},"additionalProperties":true,"maxProperties":3}""", "maxProperties", "#")]
    [InlineData("""{"$ref":"#missing"}""", "$ref", "#")]
    [InlineData("""{"type":"object","anyOf":[{"properties":{"a":{}}},{"required":["b"]}],"unevaluatedProperties":false}""", "unevaluatedProperties", "#")]
    [InlineData("""{"type":"array","contains":{"type":"string"},"unevaluatedItems":false}""", "unevaluatedItems", "#")]
    [InlineData("""{"type":"array","anyOf":[{"prefixItems":[{"type":"string"}]},{"minItems":2}],"unevaluatedItems":false}""", "unevaluatedItems", "#")]
    [InlineData("""{"type":"array","contains":{"type":"string","minLength":2}}""", "contains", "#")]
    [InlineData("""{"type":"array","contains":{"type":"string"},"maxItems":3}""", "contains", "#")]
    [InlineData("""{"oneOf":[{"type":"string"},{"type":"string","maxLength":3}]}""", "oneOf", "#/oneOf")]
    [InlineData("""{"type":"object","oneOf":[{"required":["kind"],"patternProperties":{"^k":{"type":"string"}},"additionalProperties":false},{"required":["kind"],"properties":{"kind":{"type":"integer"}}}]}""", "oneOf", "#/oneOf")]
    [InlineData("""{"type":"string","pattern":"(a)\\1"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"a(?=b)"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"(?!rpc)"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"^(?=rpc)"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"^(?!a)b|c"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"^a(?!b)"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"a\\b.*b"}""", "pattern", "#")]
    [InlineData("""{"type":"string","pattern":"(a\\b)"}""", "pattern", "#")]
    [InlineData("""{"type":"object","patternProperties":{"[a-z-]\\b":{}}}""", "patternProperties", "#")]
    [InlineData("""{"type":"object","properties":{"a":{}},"minProperties":2}""", "minProperties", "#")]
    [InlineData("""{"$ref":"https://example.com/s.json"}""", "$ref", "#")]
    [InlineData("""{"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"}""", "$ref", "#/$defs/a")]
    [InlineData("""{"type":"strng"}""", "type", "#")]
    [InlineData("""{"type":["integer",{"type":"string"}]}""", "type", "#")]
    [InlineData("""{"type":"integer","divisibleBy":2}""", "divisibleBy", "#")]
    [InlineData("""{"disallow":"string"}""", "disallow", "#")]
    [InlineData("""{"properties":{"a":{"extends":{"type":"string"}}}}""", "extends", "#/properties/a")]
    public void Refuses_with_keyword_and_pointer(string schema, string keyword, string pointer)
    {
        var e = Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile(schema));
        Assert.Equal(keyword, e.Keyword);
        Assert.Equal(pointer, e.Pointer);
        Assert.Contains(keyword, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsatisfiable_schema_is_refused()
    {
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile("""{"type":"integer","minimum":5,"maximum":4}"""));
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile("""{"allOf":[{"type":"string"},{"type":"integer"}]}"""));
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile("""{"type":"object","properties":{"a":false},"required":["a"]}"""));
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile("not json"));
    }

    [Fact]
    public void Recursion_without_base_case_is_refused()
    {
        // Every node requires a child: no finite instance exists.
        var schema = """{"$defs":{"n":{"type":"object","properties":{"c":{"$ref":"#/$defs/n"}},"required":["c"]}},"$ref":"#/$defs/n"}""";
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile(schema));
    }

    [Fact]
    public void Trivially_satisfied_assertions_are_accepted()
    {
        JsonSchemaGrammar.Compile("""{"type":"array","uniqueItems":true,"maxItems":1}""");
        JsonSchemaGrammar.Compile("""{"type":"object","properties":{"a":{}},"required":["a"],"minProperties":1,"maxProperties":1,"additionalProperties":false}""");
        JsonSchemaGrammar.Compile("""{"type":"string","title":"t","description":"d","examples":["x"],"x-custom":1}""");
    }
}
