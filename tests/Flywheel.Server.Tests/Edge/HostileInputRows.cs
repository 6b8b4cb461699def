namespace Flywheel.Server.Tests.Edge;

/// <summary>
/// The hostile-input table: request bodies a careless or malicious client sends, each with the status, error
/// <c>code</c> and <c>param</c> the server must answer with. Raw bytes are written <c>&lt;xHH&gt;</c> inside
/// the text (see <see cref="HostileInputTests.Bytes"/>); status 200 rows are controls that must be accepted.
/// </summary>
internal static class HostileInputRows
{
    public const string Chat = "/v1/chat/completions";
    public const string Completions = "/v1/completions";

    private const string M = "\"model\":\"test-model\"";

    public static IReadOnlyDictionary<string, Row> All { get; } = Build();

    /// <summary>One request and the answer it must get.</summary>
    public sealed record Row(string Path, string Body, int Status, string? Code, string? Param);

    private static string ChatWith(string extra) => $$"""{{{M}},"messages":[{"role":"user","content":"hi"}]{{extra}}}""";

    private static string Message(string message) => $$"""{{{M}},"messages":[{{message}}]}""";

    private static string Content(string content) => Message($$"""{"role":"user","content":{{content}}}""");

    private static string PromptWith(string extra) => $$"""{{{M}},"prompt":"hi"{{extra}}}""";

    private static string Schema(string jsonSchema) => ChatWith($$""","response_format":{"type":"json_schema","json_schema":{{jsonSchema}}}""");

    private static Dictionary<string, Row> Build()
    {
        var rows = new Dictionary<string, Row>(StringComparer.Ordinal);
        void Add(string name, string path, string body, int status, string? code = null, string? param = null) =>
            rows.Add(name, new Row(path, body, status, code, param));
        void Malformed(string name, string body) => Add(name, Completions, body, 400, "invalid_json");
        void Text(string name, string body, string param) => Add(name, Chat, body, 400, "invalid_unicode", param);
        void Duplicate(string name, string body, string param) => Add(name, Chat, body, 400, "duplicate_key", param);

        // Malformed and truncated.
        Malformed("empty body", "");
        Malformed("only an open brace", "{");
        Malformed("truncated after a key", """{"model":""");
        Malformed("truncated after a comma", $$"""{{{M}},""");
        Malformed("truncated inside messages", $$"""{{{M}},"messages":[""");
        Malformed("missing the last brace", $$"""{{{M}},"prompt":"x" """);
        Malformed("truncated inside a string", $$"""{{{M}},"prompt":"unterminated""");
        Malformed("truncated inside an escape", $$"""{{{M}},"prompt":"a\u00""");
        Malformed("missing comma", $$"""{{{M}} "prompt":"x"}""");
        Malformed("single quotes", "{'model':'test-model','prompt':'x'}");
        Malformed("trailing comma", $$"""{{{M}},"prompt":"x",}""");
        Malformed("unquoted key", """{model:"test-model","prompt":"x"}""");
        Malformed("extra closing brace", PromptWith("") + "}");
        Malformed("two documents", $$"""{{{M}},"prompt":"x"} {"a":1}""");
        Malformed("a comment", $"{{{M},\"prompt\":\"x\" // note\n}}");
        Malformed("NaN", PromptWith(""","max_tokens":NaN"""));
        Malformed("Infinity", PromptWith(""","temperature":Infinity"""));
        Malformed("leading zero", PromptWith(""","max_tokens":01"""));
        Malformed("bare fraction", PromptWith(""","temperature":.5"""));
        Malformed("dangling point", PromptWith(""","temperature":1."""));
        Malformed("plus sign", PromptWith(""","temperature":+1"""));
        Malformed("hex number", PromptWith(""","max_tokens":0x10"""));
        Malformed("raw control character in a string", $$"""{{{M}},"prompt":"a<x01>b"}""");
        Malformed("raw newline in a string", $"{{{M},\"prompt\":\"a\nb\"}}");
        Malformed("unknown escape", $$"""{{{M}},"prompt":"\x41"}""");
        Malformed("short unicode escape", $$"""{{{M}},"prompt":"\u12"}""");
        Malformed("nesting deeper than 64", $$"""{{{M}},"prompt":{{new string('[', 100)}}{{new string(']', 100)}}}""");
        Malformed("NUL byte outside strings", $$"""{{{M}},<x00>"prompt":"x"}""");
        Malformed("stray invalid byte outside strings", $$"""{{{M}},"prompt":"x"<xFF>}""");
        Malformed("true misspelt", PromptWith(""","echo":tru"""));
        Add("null body", Completions, "null", 400);
        Add("array body", Completions, "[1,2]", 400);
        Add("string body", Completions, "\"text\"", 400);
        Add("number body", Completions, "42", 400);
        Add("boolean body", Chat, "true", 400);

        // Bytes that are not text, in every kind of string field.
        Text("0xFF in content", Content("\"a<xFF>b\""), "messages[0].content");
        Text("overlong NUL in content", Content("\"a<xC0><x80>b\""), "messages[0].content");
        Text("lone high surrogate in content", Content("\"\\ud800\""), "messages[0].content");
        Text("lone low surrogate in content", Content("\"\\udc00x\""), "messages[0].content");
        Text("high surrogate before a letter", Content("\"\\ud800\\u0041\""), "messages[0].content");
        Text("truncated 4-byte sequence", Content("\"<xF0><x9F><x98>\""), "messages[0].content");
        Text("5-byte sequence", Content("\"<xF8><x88><x80><x80><x80>\""), "messages[0].content");
        Text("UTF-8 encoded surrogate", Content("\"<xED><xA0><x80>\""), "messages[0].content");
        Text("code point above U+10FFFF", Content("\"<xF4><x90><x80><x80>\""), "messages[0].content");
        Text("lone continuation byte", Content("\"<x80>\""), "messages[0].content");
        Text("bad byte in a text part", Content("""[{"type":"text","text":"\ud800"}]"""), "messages[0].content[0].text");
        Text("bad byte in a second message", $$"""{{{M}},"messages":[{"role":"user","content":"ok"},{"role":"user","content":"<xFF>"}]}""", "messages[1].content");
        Text("bad byte in a message name", Message("""{"role":"user","content":"x","name":"<xFE>"}"""), "messages[0].name");
        Text("bad byte in a role", Message("""{"role":"us<xFF>er","content":"x"}"""), "messages[0].role");
        Text("0xFF in model", """{"model":"test<xFF>","messages":[{"role":"user","content":"x"}]}""", "model");
        Text("lone surrogate in model", """{"model":"\udfff","messages":[{"role":"user","content":"x"}]}""", "model");
        Text("0xFF in a key", """{"mo<xFF>del":"test-model","messages":[{"role":"user","content":"x"}]}""", "mo\uFFFDdel");
        Text("lone surrogate in a key", ChatWith(""","\ud800":1"""), "\\ud800");
        Text("bad byte in a message key", Message("""{"ro<xFF>le":"user","content":"x"}"""), "messages[0].ro\uFFFDle");
        Text("bad byte in the schema name", Schema("""{"name":"n<xFF>","schema":{"type":"object"}}"""), "response_format.json_schema.name");
        Text("lone surrogate in the schema name", Schema("""{"name":"\ud800","schema":{"type":"object"}}"""), "response_format.json_schema.name");
        Text("bad byte inside the schema", Schema("""{"name":"s","schema":{"type":"string","description":"<xFF>"}}"""), "response_format.json_schema.schema.description");
        Text("bad byte in a schema enum", Schema("""{"name":"s","schema":{"enum":["a","\udbff"]}}"""), "response_format.json_schema.schema.enum[1]");
        Text("bad byte in user", ChatWith(""","user":"<xFF>" """), "user");
        Text("bad byte in stop", ChatWith(""","stop":"\ud800" """), "stop");
        Text("bad byte in a stop list", ChatWith(""","stop":["ok","<xFE>"]"""), "stop[1]");
        Add("bad byte in prompt", Completions, $$"""{{{M}},"prompt":"<xFF>"}""", 400, "invalid_unicode", "prompt");
        Add("bad byte in a prompt list", Completions, $$"""{{{M}},"prompt":["\ud800"]}""", 400, "invalid_unicode", "prompt[0]");
        Add("surrogate pair escape is text", Chat, Content("\"\\ud83d\\ude00\""), 200);
        Add("raw UTF-8 is text", Chat, Content("\"héllo ☃ 😀\""), 200);
        Add("byte order mark is skipped", Completions, "<xEF><xBB><xBF>" + PromptWith(""), 200);

        // The same key twice in one object, at any depth.
        Duplicate("model twice", """{"model":"a","model":"b","messages":[{"role":"user","content":"x"}]}""", "model");
        Duplicate("model twice with one value", $$"""{{{M}},{{M}},"messages":[{"role":"user","content":"x"}]}""", "model");
        Duplicate("model twice, once escaped", $$"""{{{M}},"\u006dodel":"b","messages":[{"role":"user","content":"x"}]}""", "model");
        Duplicate("stream twice", ChatWith(""","stream":false,"stream":true"""), "stream");
        Duplicate("unknown key twice", ChatWith(""","foo":1,"foo":2"""), "foo");
        Duplicate("role twice", Message("""{"role":"user","role":"system","content":"x"}"""), "messages[0].role");
        Duplicate("content twice", Message("""{"role":"user","content":"x","content":"y"}"""), "messages[0].content");
        Duplicate("content twice in a second message", $$"""{{{M}},"messages":[{"role":"user","content":"x"},{"role":"user","content":"x","content":"y"}]}""", "messages[1].content");
        Duplicate("text twice in a part", Content("""[{"type":"text","text":"a","text":"b"}]"""), "messages[0].content[0].text");
        Duplicate("response_format type twice", ChatWith(""","response_format":{"type":"text","type":"json_object"}"""), "response_format.type");
        Duplicate("schema name twice", Schema("""{"name":"a","name":"b","schema":{"type":"object"}}"""), "response_format.json_schema.name");
        Duplicate("property twice inside the schema", Schema("""{"name":"s","schema":{"type":"object","properties":{"a":{},"a":{}}}}"""), "response_format.json_schema.schema.properties.a");
        Duplicate("include_usage twice", ChatWith(""","stream":true,"stream_options":{"include_usage":true,"include_usage":false}"""), "stream_options.include_usage");
        Duplicate("logit_bias token twice", ChatWith(""","logit_bias":{"1":1,"1":2}"""), "logit_bias.1");
        Add("prompt twice", Completions, $$"""{{{M}},"prompt":"a","prompt":"b"}""", 400, "duplicate_key", "prompt");

        // Wrong types and missing fields.
        Add("model a number", Chat, """{"model":123,"messages":[{"role":"user","content":"x"}]}""", 400, "invalid_type", "model");
        Add("model null", Chat, """{"model":null,"messages":[{"role":"user","content":"x"}]}""", 400, null, "model");
        Add("model missing", Chat, """{"messages":[{"role":"user","content":"x"}]}""", 400, null, "model");
        Add("messages a string", Chat, $$"""{{{M}},"messages":"hi"}""", 400, null, "messages");
        Add("messages an object", Chat, "{" + M + ""","messages":{}}""", 400, null, "messages");
        Add("messages empty", Chat, $$"""{{{M}},"messages":[]}""", 400, null, "messages");
        Add("message a number", Chat, Message("1"), 400, null, "messages[0]");
        Add("message null", Chat, Message("null"), 400, null, "messages[0]");
        Add("role a number", Chat, Message("""{"role":5,"content":"x"}"""), 400, "invalid_type", "messages[0].role");
        Add("role unknown", Chat, Message("""{"role":"wizard","content":"x"}"""), 400, null, "messages[0].role");
        Add("content a number", Chat, Content("5"), 400, null, "messages[0].content");
        Add("content part an image", Chat, Content("""[{"type":"image_url","image_url":{"url":"x"}}]"""), 400, null, "messages[0].content[0].type");
        Add("content part a number", Chat, Content("[1]"), 400, null, "messages[0].content[0]");
        Add("temperature a string", Chat, ChatWith(""","temperature":"hot" """), 400, "invalid_type", "temperature");
        Add("temperature a boolean", Chat, ChatWith(""","temperature":true"""), 400, "invalid_type", "temperature");
        Add("max_tokens a string", Chat, ChatWith(""","max_tokens":"10" """), 400, "invalid_type", "max_tokens");
        Add("max_tokens a fraction", Chat, ChatWith(""","max_tokens":1.5"""), 400, "invalid_type", "max_tokens");
        Add("stream a string", Chat, ChatWith(""","stream":"yes" """), 400, "invalid_type", "stream");
        Add("stop a number", Chat, ChatWith(""","stop":5"""), 400, null, "stop");
        Add("stop holding a number", Chat, ChatWith(""","stop":[1]"""), 400, null, "stop");
        Add("stop holding null", Chat, ChatWith(""","stop":["a",null]"""), 400, null, "stop");
        Add("response_format a string", Chat, ChatWith(""","response_format":"json" """), 400, "invalid_type", "response_format");
        Add("response_format type unknown", Chat, ChatWith(""","response_format":{"type":"xml"}"""), 400, null, "response_format.type");
        Add("response_format type missing", Chat, ChatWith(""","response_format":{}"""), 400, null, "response_format.type");
        Add("json_schema missing", Chat, ChatWith(""","response_format":{"type":"json_schema"}"""), 400, null, "response_format.json_schema");
        Add("schema a string", Chat, Schema("""{"name":"s","schema":"object"}"""), 400, null, "response_format.json_schema.schema");
        Add("stream_options without stream", Chat, ChatWith(""","stream_options":{"include_usage":true}"""), 400, null, "stream_options");
        Add("seed a string", Chat, ChatWith(""","seed":"1" """), 400, "invalid_type", "seed");
        Add("logprobs a string", Chat, ChatWith(""","logprobs":"yes" """), 400, "invalid_type", "logprobs");
        Add("top_logprobs without logprobs", Chat, ChatWith(""","top_logprobs":2"""), 400, null, "top_logprobs");
        Add("prompt a number", Completions, $$"""{{{M}},"prompt":5}""", 400, null, "prompt");
        Add("prompt token ids", Completions, $$"""{{{M}},"prompt":[1,2]}""", 400, null, "prompt");
        Add("prompt a batch", Completions, $$"""{{{M}},"prompt":["a","b"]}""", 400, null, "prompt");
        Add("prompt missing", Completions, $$"""{{{M}}}""", 400, null, "prompt");

        // Numeric extremes.
        Add("max_tokens zero", Chat, ChatWith(""","max_tokens":0"""), 400, null, "max_tokens");
        Add("max_tokens negative", Chat, ChatWith(""","max_tokens":-1"""), 400, null, "max_tokens");
        Add("max_tokens over int", Chat, ChatWith(""","max_tokens":2147483648"""), 400, null, "max_tokens");
        Add("max_tokens over long", Chat, ChatWith(""","max_tokens":99999999999999999999"""), 400, "invalid_type", "max_tokens");
        Add("max_tokens 1e400", Chat, ChatWith(""","max_tokens":1e400"""), 400, "invalid_type", "max_tokens");
        Add("max_tokens past the context", Completions, PromptWith(""","max_tokens":1000000"""), 400, "context_length_exceeded", "prompt");
        Add("temperature 1e308", Chat, ChatWith(""","temperature":1e308"""), 400, null, "temperature");
        Add("temperature 1e400", Chat, ChatWith(""","temperature":1e400"""), 400, "invalid_type", "temperature");
        Add("temperature -1e-400 underflows to zero", Chat, ChatWith(""","temperature":-1e-400"""), 200);
        Add("temperature negative zero", Chat, ChatWith(""","temperature":-0.0"""), 200);
        Add("top_p zero", Chat, ChatWith(""","top_p":0"""), 400, null, "top_p");
        Add("top_k below -1", Chat, ChatWith(""","top_k":-2"""), 400, null, "top_k");
        Add("presence_penalty just over 2", Chat, ChatWith(""","presence_penalty":2.0000001"""), 400, null, "presence_penalty");
        Add("frequency_penalty -1e309", Chat, ChatWith(""","frequency_penalty":-1e309"""), 400, "invalid_type", "frequency_penalty");
        Add("seed over long", Chat, ChatWith(""","seed":9223372036854775808"""), 400, "invalid_type", "seed");
        Add("seed long minimum", Chat, ChatWith(""","seed":-9223372036854775808"""), 200);
        Add("n two", Chat, ChatWith(""","n":2"""), 400, null, "n");
        Add("n zero", Chat, ChatWith(""","n":0"""), 400, null, "n");
        Add("logprobs over 20", Completions, PromptWith(""","logprobs":21"""), 400, null, "logprobs");
        Add("max_repairs over 5", Chat, ChatWith(""","response_format":{"type":"json_object"},"max_repairs":6"""), 400, null, "max_repairs");
        const string tool = ""","tools":[{"type":"function","function":{"name":"f"}}]""";
        Add("tool max_repairs over 5", Chat, ChatWith(tool + ""","max_repairs":6"""), 400, null, "max_repairs");
        Add("tool max_repairs a string", Chat, ChatWith(tool + ""","tool_choice":"required","max_repairs":"1" """), 400, "invalid_type", "max_repairs");
        Add("max_repairs beside tool_choice none", Chat, ChatWith(tool + ""","tool_choice":"none","max_repairs":1"""), 400, null, "max_repairs");
        Add("json_whitespace unknown", Chat, ChatWith(""","response_format":{"type":"json_object"},"json_whitespace":"none" """), 400, null, "json_whitespace");

        // Unknown and unsupported fields.
        Add("misspelt parameter", Chat, ChatWith(""","temprature":1"""), 400, "unknown_parameter", "temprature");
        Add("unknown message key", Chat, Message("""{"role":"user","content":"x","foo":1}"""), 400, "unknown_parameter", "messages[0].foo");
        Add("unknown stream_options key", Chat, ChatWith(""","stream":true,"stream_options":{"foo":1}"""), 400, "unknown_parameter", "stream_options.foo");
        Add("unknown response_format key", Chat, ChatWith(""","response_format":{"type":"text","foo":1}"""), 400, "unknown_parameter", "response_format.foo");
        Add("unknown json_schema key", Chat, Schema("""{"name":"s","schema":{},"foo":1}"""), 400, "unknown_parameter", "response_format.json_schema.foo");
        Add("unknown text part key", Chat, Content("""[{"type":"text","text":"a","foo":1}]"""), 400, "unknown_parameter", "messages[0].content[0].foo");
        Add("tools", Chat, ChatWith(""","tools":[]"""), 400, null, "tools");
        Add("suffix", Completions, PromptWith(""","suffix":"x" """), 400, null, "suffix");
        Add("echo", Completions, PromptWith(""","echo":true"""), 400, null, "echo");
        Add("best_of two", Completions, PromptWith(""","best_of":2"""), 400, null, "best_of");

        // Huge values.
        var big = new string('x', 100_000);
        Add("100 KB model name", Chat, $$"""{"model":"{{big}}","messages":[{"role":"user","content":"x"}]}""", 404, "model_not_found", "model");
        Add("1 MB content", Chat, Content($"\"{new string('y', 1_000_000)}\""), 200);
        Add("10,000 messages", Chat, $$"""{{{M}},"messages":[{{string.Join(",", Enumerable.Repeat("""{"role":"user","content":"x"}""", 10_000))}}]}""", 400, "context_length_exceeded", "messages");
        Add("17 stop strings", Chat, ChatWith($$""","stop":[{{string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"s{i}\""))}}]"""), 400, null, "stop");
        Add("100 KB unknown key", Chat, ChatWith($$""","{{big}}":1"""), 400, "unknown_parameter", big);
        Add("100,000-element prompt", Completions, $$"""{{{M}},"prompt":[{{string.Join(",", Enumerable.Repeat("1", 100_000))}}]}""", 400, null, "prompt");
        Add("5 MB body", Completions, $$"""{{{M}},"prompt":"{{new string('z', 5 * 1024 * 1024)}}"}""", 413, "request_too_large");
        Add("schema nested deeper than 64", Chat, Schema($$"""{"name":"s","schema":{{string.Concat(Enumerable.Repeat("""{"items":""", 70))}}{}{{new string('}', 70)}}}"""), 400, "invalid_json");
        return rows;
    }
}
