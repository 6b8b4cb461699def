using System.Text;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>Each supported keyword accepts its valid and rejects its invalid byte streams.</summary>
public sealed class GrammarKeywordTests
{
    internal static bool Accepts(JsonSchemaGrammar grammar, string text)
    {
        var m = grammar.CreateByteMatcher();
        return m.TryAdvance(Encoding.UTF8.GetBytes(text)) && m.IsComplete;
    }

    private static void Check(string schema, string[] valid, string[] invalid)
    {
        var g = JsonSchemaGrammar.Compile(schema, new JsonSchemaCompileOptions { MaxWhitespace = 2 });
        foreach (var v in valid)
        {
            Assert.True(Accepts(g, v), $"should accept {v} for {schema}");
        }

        foreach (var v in invalid)
        {
            Assert.False(Accepts(g, v), $"should reject {v} for {schema}");
        }
    }

    [Fact]
    public void Types_and_type_arrays() => Check("""{"type":["string","null"]}""",
        ["\"a\"", "null", "\"\""], ["1", "true", "{}", "nul", "\"a"]);

    [Fact]
    public void Integer_and_number() => Check("""{"type":"integer"}""",
        ["0", "-12", "123456789012345678901234567890"], ["01", "1.5", "1e3", "-", "+1", "1.0"]);

    [Fact]
    public void Numbers_with_exponent() => Check("""{"type":"number"}""",
        ["1e10", "-1.5E-3", "0.0", "2e+5", "0"], ["1e", ".5", "1.", "00", "1e+"]);

    [Fact]
    public void Bounds_are_exact() => Check("""{"type":"number","minimum":-1.5,"exclusiveMaximum":10}""",
        ["-1.5", "-1.4999", "9.9999999", "0", "-0", "9"], ["-1.5001", "10", "10.0", "11", "-2"]);

    [Fact]
    public void Integer_bounds() => Check("""{"type":"integer","minimum":3,"maximum":120}""",
        ["3", "99", "120", "100"], ["2", "121", "1000", "-3", "0"]);

    [Fact]
    public void Draft4_boolean_exclusive_minimum() => Check("""{"type":"integer","minimum":0,"exclusiveMinimum":true}""",
        ["1", "25"], ["0", "-1"]);

    [Fact]
    public void String_escapes_and_unicode() => Check("""{"type":"string"}""",
        ["\"h\\u00e9llo\"", "\"\\ud83d\\ude00\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"日本語 😀\""],
        ["\"\\ud83d\"", "\"\\ude00\"", "\"\\x\"", "\"a\nb\"", "\"\\u12\""]);

    [Fact]
    public void String_length_counts_code_points() => Check("""{"type":"string","minLength":2,"maxLength":3}""",
        ["\"ab\"", "\"日本語\"", "\"a\\n\""], ["\"a\"", "\"abcd\"", "\"日本語x\"", "\"😀😀\""]);

    [Fact]
    public void Pattern_is_a_search_unless_anchored()
    {
        Check("""{"type":"string","pattern":"ab+c"}""", ["\"xxabbbcyy\"", "\"abc\""], ["\"ac\"", "\"xyz\""]);
        Check("""{"type":"string","pattern":"^[A-Z]{2}-\\d{3,4}$"}""", ["\"AB-123\"", "\"XY-1234\""], ["\"AB-12\"", "\"ab-123\"", "\"AB-12345\""]);
        Check("""{"type":"string","pattern":"^(cat|dog)s?$"}""", ["\"cats\"", "\"dog\""], ["\"cow\"", "\"catss\""]);
        Check("""{"type":"string","pattern":"^\\w+\\s\\w+$"}""", ["\"a b\"", "\"foo\\tbar\""], ["\"ab\"", "\"a  b\""]);
    }

    [Fact]
    public void Pattern_with_a_leading_negative_lookahead_is_does_not_start_with()
    {
        Check("""{"type":"string","pattern":"^(?!rpc\\.)"}""",
            ["\"getUser\"", "\"rpc\"", "\"\"", "\"rpcx.a\"", "\"xrpc.a\"", "\"RPC.a\""], ["\"rpc.discover\"", "\"rpc.\""]);
        Check("""{"type":"string","pattern":"^(?!foo|bar)[a-z]+$"}""",
            ["\"baz\"", "\"fo\"", "\"xfoo\"", "\"ba\""], ["\"foo\"", "\"food\"", "\"barn\"", "\"\"", "\"baz1\""]);
        Check("""{"type":"string","pattern":"^(?!a)(?![0-9]{2})"}""", ["\"b\"", "\"1a\"", "\"\""], ["\"ab\"", "\"12\""]);
    }

    [Fact]
    public void Word_boundaries_decided_by_the_pattern()
    {
        Check("""{"type":"string","pattern":"^\\s*(SELECT|WITH)\\b"}""",
            ["\"SELECT * FROM t\"", "\"  WITH x AS (1)\"", "\"SELECT\"", "\"SELECT(1)\"", "\"SELECT\\n1\"", "\"SELECTé\""],
            ["\"SELECTED\"", "\"SELECT_1\"", "\"WITH2\"", "\"select 1\"", "\"x SELECT 1\""]);
        Check("""{"type":"string","pattern":"\\bcat\\b"}""",
            ["\"cat\"", "\"a cat!\"", "\"cat-dog\"", "\"concat cat\""], ["\"concat\"", "\"cats\"", "\"bobcat\"", "\"\""]);
        Check("""{"type":"string","pattern":"^id\\b-[0-9]+$"}""", ["\"id-12\""], ["\"id12\"", "\"idx-1\""]);
        Check("""{"type":"string","pattern":"^ab\\B[a-z0-9]"}""", ["\"abc\"", "\"ab1\""], ["\"ab\"", "\"ab-\""]);
        Check("""{"type":"string","pattern":"^a\\b[a-z]|^z"}""", ["\"z\"", "\"za\""], ["\"ab\"", "\"a\""]);
    }

    [Fact]
    public void Formats()
    {
        Check("""{"type":"string","format":"date"}""", ["\"2024-02-29\"", "\"2023-12-31\"", "\"2000-02-29\""], ["\"2023-02-29\"", "\"1900-02-29\"", "\"2023-04-31\"", "\"2023-13-01\""]);
        Check("""{"type":"string","format":"date-time"}""", ["\"2024-01-02T03:04:05Z\"", "\"2024-01-02T03:04:05.123+05:30\""], ["\"2024-01-02 03:04:05Z\"", "\"2024-01-02T24:00:00Z\"", "\"2024-01-02T03:04:05\""]);
        Check("""{"type":"string","format":"time"}""", ["\"23:59:59Z\""], ["\"23:59\""]);
        Check("""{"type":"string","format":"email"}""", ["\"a.b+c@example.com\""], ["\"a@b\"", "\"@x.com\"", "\"a..b@x.com\""]);
        Check("""{"type":"string","format":"uuid"}""", ["\"123e4567-e89b-12d3-a456-426614174000\""], ["\"123e4567e89b12d3a456426614174000\""]);
        Check("""{"type":"string","format":"ipv4"}""", ["\"192.168.0.1\"", "\"0.0.0.0\""], ["\"256.1.1.1\"", "\"01.1.1.1\"", "\"1.1.1\""]);
        Check("""{"type":"string","format":"uri-reference"}""",
            ["\"g:h\"", "\"../g?y#s\"", "\"\"", "\"//[::ffff:192.0.2.1]:80/x\"", "\"/problems/out-of-credit\""],
            ["\"a b\"", "\"1x:y\"", "\"%zz\"", "\"http://h:p/\"", "\"#a#b\""]);
        Check("""{"type":"string","format":"ipv6"}""", ["\"::1\"", "\"2001:db8::8a2e:370:7334\"", "\"::\""], ["\"1:2:3:4:5:6:7:8:9\"", "\"1::2::3\""]);
        Check("""{"type":"string","format":"uri"}""", ["\"https://example.com/a/b?q=1#f\"", "\"http://x.org:8080\""], ["\"example.com\"", "\"http://x.org:99999\""]);
    }

    [Fact]
    public void Enum_and_const() => Check("""{"enum":["red","green",3,null,{"a":[1]}]}""",
        ["\"red\"", "3", "null", "{\"a\":[1]}"], ["\"blue\"", "4", "\"Red\""]);

    [Fact]
    public void Objects_follow_declared_order_and_required()
    {
        var schema = """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"boolean"}},"required":["b"]}""";
        Check(schema, ["{\"b\":\"x\"}", "{\"a\":1,\"b\":\"x\",\"c\":true}", "{ \"a\" : 1 , \"b\":\"x\" }", "{\"b\":\"x\",\"c\":false}"],
            ["{}", "{\"a\":1}", "{\"b\":\"x\",\"a\":1}", "{\"b\":\"x\",\"d\":1}", "{\"b\":1}", "{\"b\":\"x\",}"]);
    }

    [Fact]
    public void Additional_properties_schema_and_patterns()
    {
        Check("""{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":{"type":"string"}}""",
            ["{\"id\":1,\"x\":\"y\"}", "{\"x\":\"y\",\"z\":\"w\"}", "{}"], ["{\"x\":1}", "{\"id\":1,\"id\":\"s\"}"]);
        Check("""{"type":"object","patternProperties":{"^n_":{"type":"integer"}},"additionalProperties":false}""",
            ["{\"n_a\":1}", "{}"], ["{\"n_a\":\"s\"}", "{\"x\":1}"]);
        Check("""{"type":"object"}""", ["{}", "{\"a\":[1,{\"b\":null}]}"], ["[]", "{\"a\"}"]);
    }

    [Fact]
    public void Declared_property_matching_a_pattern_satisfies_both()
    {
        // JSON-Schema-Test-Suite draft4 properties.json: "foo" is declared and matches "f.o", so
        // both its property schema (maxItems 3) and the pattern's (minItems 2) apply.
        Check("""{"properties":{"foo":{"type":"array","maxItems":3},"bar":{"type":"array"}},"patternProperties":{"f.o":{"minItems":2}},"additionalProperties":{"type":"integer"}}""",
            ["{\"foo\":[1,2]}", "{\"fxo\":[1,2]}", "{\"bar\":[]}", "{\"quux\":3}"],
            ["{\"foo\":[]}", "{\"foo\":[1]}", "{\"foo\":[1,2,3,4]}", "{\"fxo\":[]}", "{\"quux\":\"foo\"}"]);
        Check("""{"type":"object","properties":{"n_a":{"type":"integer"}},"patternProperties":{"^n_":{"minimum":5}}}""",
            ["{\"n_a\":5}", "{\"n_b\":7}"], ["{\"n_a\":4}", "{\"n_a\":\"x\"}", "{\"n_b\":4}"]);
    }

    [Fact]
    public void Arrays_items_prefix_min_max()
    {
        Check("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}""",
            ["[1]", "[1,2,3]", "[ 1 , 2 ]"], ["[]", "[1,2,3,4]", "[1,\"a\"]", "[1,]"]);
        Check("""{"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}""",
            ["[]", "[\"a\"]", "[\"a\",1]"], ["[\"a\",1,2]", "[1]"]);
        Check("""{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"boolean"}}""",
            ["[\"a\",true,false]"], ["[\"a\",1]"]);
        Check("""{"type":"array","minItems":2}""", ["[1,\"x\"]", "[[],{},null]"], ["[1]"]);
    }

    [Fact]
    public void AnyOf_nullable_and_allOf()
    {
        Check("""{"anyOf":[{"type":"integer"},{"type":"null"}]}""", ["1", "null"], ["\"a\""]);
        Check("""{"allOf":[{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]},{"properties":{"b":{"type":"string"}}}]}""",
            ["{\"a\":1}", "{\"a\":1,\"b\":\"x\"}"], ["{\"b\":\"x\"}", "{\"a\":\"x\"}"]);
        Check("""{"allOf":[{"type":"integer","minimum":0},{"maximum":5}]}""", ["0", "5"], ["6", "-1"]);
    }

    [Fact]
    public void OneOf_with_disjoint_branches() => Check(
        """{"oneOf":[{"type":"object","properties":{"kind":{"const":"a"},"x":{"type":"integer"}},"required":["kind"]},{"type":"object","properties":{"kind":{"const":"b"}},"required":["kind"]}]}""",
        ["{\"kind\":\"a\",\"x\":1}", "{\"kind\":\"b\"}"], ["{\"kind\":\"c\"}", "{\"kind\":\"b\",\"x\":1}"]);

    [Fact]
    public void Recursive_references()
    {
        var schema = """
            {"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},
             "$ref":"#/$defs/node"}
            """;
        Check(schema, ["{\"value\":1}", "{\"value\":1,\"children\":[{\"value\":2,\"children\":[{\"value\":3}]},{\"value\":4}]}"],
            ["{\"value\":1,\"children\":[{}]}", "{\"children\":[]}"]);
        Check("""{"definitions":{"list":{"anyOf":[{"type":"null"},{"type":"object","properties":{"next":{"$ref":"#/definitions/list"}},"required":["next"]}]}},"$ref":"#/definitions/list"}""",
            ["null", "{\"next\":{\"next\":null}}"], ["{}", "{\"next\":{}}"]);
    }

    [Fact]
    public void Unique_items_over_a_finite_domain()
    {
        Check("""{"type":"array","items":{"enum":["card","sepa_debit","ideal"]},"minItems":1,"uniqueItems":true}""",
            ["[\"card\"]", "[\"ideal\",\"card\"]", "[\"card\", \"sepa_debit\",\"ideal\"]"],
            ["[]", "[\"card\",\"card\"]", "[\"ideal\",\"card\",\"ideal\"]", "[\"card\",\"sepa_debit\",\"ideal\",\"card\"]", "[\"paypal\"]"]);
        Check("""{"type":"array","items":{"type":"boolean"},"uniqueItems":true,"maxItems":5}""",
            ["[]", "[true,false]", "[false]"], ["[true,true]", "[false,true,false]"]);
        Check("""{"type":"array","items":{"enum":[1,2,3]},"uniqueItems":true,"minItems":2,"maxItems":2}""",
            ["[1,2]", "[3,1]"], ["[1]", "[1,2,3]", "[2,2]"]);
    }

    [Fact]
    public void Unique_items_compare_values_not_spellings()
    {
        // 1 and 1.0 are one value, as are objects with their keys in another order: one spelling each.
        Check("""{"type":"array","items":{"enum":[1,1.0,{"a":1,"b":2},{"b":2,"a":1},null]},"uniqueItems":true}""",
            ["[1,{\"a\":1,\"b\":2},null]", "[null,1]"],
            ["[1,1]", "[1,1.0]", "[1.0]", "[{\"a\":1,\"b\":2},{\"a\":1,\"b\":2}]", "[{\"b\":2,\"a\":1}]"]);
        Check("""{"$defs":{"c":{"anyOf":[{"const":"x"},{"enum":["y","x"]}]}},"type":"array","items":{"$ref":"#/$defs/c"},"uniqueItems":true}""",
            ["[\"x\",\"y\"]", "[\"y\"]"], ["[\"x\",\"x\"]", "[\"y\",\"x\",\"y\"]"]);
    }

    [Fact]
    public void Boolean_schemas()
    {
        Check("true", ["1", "{\"a\":[true]}", "\"x\""], ["", "tru"]);
        Check("""{"type":"object","properties":{"a":false,"b":true},"additionalProperties":false}""", ["{}", "{\"b\":[1]}"], ["{\"a\":1}"]);
        Assert.Throws<SchemaCompileException>(() => JsonSchemaGrammar.Compile("false"));
    }

    [Fact]
    public void Whitespace_is_bounded()
    {
        var g = JsonSchemaGrammar.Compile("""{"type":"array"}""", new JsonSchemaCompileOptions { MaxWhitespace = 3 });
        Assert.True(Accepts(g, "[   1]"));
        Assert.False(Accepts(g, "[    1]"));
        Assert.False(Accepts(g, " [1]"));
    }

    [Fact]
    public void Any_json_object_mode()
    {
        var g = JsonSchemaGrammar.AnyJsonObject();
        Assert.True(Accepts(g, "{\"a\":{\"b\":[1,2.5e3,\"x\",null,true]}}"));
        Assert.False(Accepts(g, "[1]"));
        Assert.False(Accepts(g, "\"x\""));
    }
}
