using System.Text.Json;
using System.Text.RegularExpressions;
using Flywheel.Engine.Tests;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Tests.Testing;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.OpenAiClient;

/// <summary>
/// Tool calling through the official OpenAI client for node (openai-tools.mjs) against a real server over the
/// tiny model: required, named and parallel calls are grammar-enforced, so even random weights must produce
/// calls to the allowed functions whose arguments validate; streams assembled by the client's own helper
/// must equal the whole answers; a call and its result continue the conversation; bad definitions are 400s
/// naming the field.
/// </summary>
public sealed partial class ToolCallClientTests
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"],"additionalProperties":false}""";
    private const string TimeSchema = """{"type":"object","properties":{"timezone":{"type":"string","maxLength":8},"hour24":{"type":"boolean"}},"required":["timezone"],"additionalProperties":false}""";

    // A reference out of the document: never fetched, always refused.
    private const string RefusedSchema = """{"type":"object","properties":{"where":{"$ref":"https://example.com/place.json"}}}""";

    private static readonly Dictionary<string, JsonSchemaValidator> Validators = new()
    {
        ["get_weather"] = JsonSchemaValidator.Create(WeatherSchema),
        ["get_time"] = JsonSchemaValidator.Create(TimeSchema),
    };

    [GeneratedRegex("^call_[A-Za-z0-9]{24}$")]
    private static partial Regex CallId();

    [Fact]
    public async Task The_official_client_gets_valid_calls_streams_them_and_meets_refusals()
    {
        await using var server = await EngineServer.StartAsync("server-openai-tools", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 1024 },
            new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 128 });
        // tool_choice auto (a ToolCallTrigger, in a generation or its repair) is steered to open a call; the rest is the model's.
        var marker = server.Tokenizer.Encode(Flywheel.Serving.Tools.ToolCallParser.OpenTag);
        server.Backend.WrapConstraint = inner => inner is Flywheel.Serving.Tools.ToolCallTrigger ? new ForcedTokens(inner, marker, server.Tokenizer.VocabSize) : inner;
        object Tool(string name, string description, string schema) =>
            new { type = "function", function = new { name, description, parameters = JsonDocument.Parse(schema).RootElement } };
        using var result = RunClient(server, new
        {
            model = server.Model.Name,
            max_tokens = 64,
            auto_max_tokens = 160,
            tools = new[] { Tool("get_weather", "Current weather in a city", WeatherSchema), Tool("get_time", "Local time in a timezone", TimeSchema) },
            refused_parameters = JsonDocument.Parse(RefusedSchema).RootElement,
        });
        var root = result.RootElement;

        var required = Calls(root.GetProperty("required"), ["get_weather", "get_time"]);
        Assert.Single(required);
        Assert.NotEmpty(Calls(root.GetProperty("parallel"), ["get_weather", "get_time"]));
        var named = Assert.Single(Calls(root.GetProperty("named"), ["get_time"]));
        Assert.Single(Calls(root.GetProperty("after_result"), ["get_weather", "get_time"]));

        // Streams, assembled by the client: the same greedy calls as the whole answers (ids are fresh per answer).
        var namedStream = root.GetProperty("named_stream");
        var streamedCall = Assert.Single(Calls(namedStream, ["get_time"]));
        Assert.Equal(Signature(named), Signature(streamedCall));
        AssertPieces(namedStream.GetProperty("pieces"));
        var parallelStream = root.GetProperty("parallel_stream");
        Assert.Equal(Calls(root.GetProperty("parallel"), ["get_weather", "get_time"]).Select(Signature), Calls(parallelStream, ["get_weather", "get_time"]).Select(Signature));
        AssertPieces(parallelStream.GetProperty("pieces"));

        // A stop string cut the named call after its name went out: the partial call stays a call, finished by the stop,
        // and its text is not sent again as content.
        var cut = root.GetProperty("named_stream_cut");
        Assert.Equal("stop", cut.GetProperty("finish_reason").GetString());
        Assert.Equal(JsonValueKind.Null, cut.GetProperty("content").ValueKind);
        var cutCall = Assert.Single(cut.GetProperty("tool_calls").EnumerateArray());
        Assert.Equal("get_time", cutCall.GetProperty("function").GetProperty("name").GetString());
        var cutArguments = cutCall.GetProperty("function").GetProperty("arguments").GetString()!;
        Assert.StartsWith("{", cutArguments, StringComparison.Ordinal);
        Assert.DoesNotContain("timezone", cutArguments, StringComparison.Ordinal);

        // runTools: the client ran get_time on the arguments it assembled and parsed, and sent the result back.
        var run = root.GetProperty("run_tools");
        var invoked = Assert.Single(run.GetProperty("invoked").EnumerateArray());
        Assert.Empty(Validators["get_time"].Validate(invoked.GetRawText()));
        var turns = run.GetProperty("messages").EnumerateArray().ToList();
        var assistant = turns.Single(m => m.GetProperty("role").GetString() == "assistant");
        var runCall = Assert.Single(assistant.GetProperty("tool_calls").EnumerateArray());
        Assert.Equal(invoked.GetRawText(), JsonDocument.Parse(runCall.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetRawText());
        var toolTurn = turns.Single(m => m.GetProperty("role").GetString() == "tool");
        Assert.Equal(runCall.GetProperty("id").GetString(), toolTurn.GetProperty("tool_call_id").GetString());
        Assert.Equal("""{"ok":true}""", toolTurn.GetProperty("content").GetString());

        // auto, steered into a call: held to a valid one, and the client assembles the same calls from the stream.
        // What the model wrote after its call is content, the same in both.
        var autoCalls = Calls(root.GetProperty("auto"), ["get_weather", "get_time"], textToo: true);
        var autoStream = root.GetProperty("auto_stream");
        Assert.Equal(autoCalls.Select(Signature), Calls(autoStream, ["get_weather", "get_time"], textToo: true).Select(Signature));
        Assert.Equal(root.GetProperty("auto").GetProperty("content").GetRawText(), autoStream.GetProperty("content").GetRawText());
        AssertPieces(autoStream.GetProperty("pieces"));

        var none = root.GetProperty("none");
        Assert.False(none.GetProperty("has_tool_calls_key").GetBoolean());
        Assert.NotEqual("tool_calls", none.GetProperty("finish_reason").GetString());

        AssertRefusal(root.GetProperty("bad_name"), "tools[1].function.name");
        AssertRefusal(root.GetProperty("unknown_choice"), "tool_choice.function.name");
        AssertRefusal(root.GetProperty("choice_without_tools"), "tool_choice");
        AssertRefusal(root.GetProperty("tool_without_id"), "messages[2].tool_call_id");
        var refused = root.GetProperty("refused_schema");
        AssertRefusal(refused, "tools[1].function.parameters");
        Assert.Contains("$ref", refused.GetProperty("message").GetString());
    }

    /// <summary>
    /// An answer that made calls: finish_reason tool_calls, content null (unless <paramref name="textToo"/>: auto may
    /// write text beside its calls), each call with an OpenAI-shaped id, type function, an allowed name and arguments
    /// (a JSON string) valid against that function's schema.
    /// </summary>
    private static List<JsonElement> Calls(JsonElement answer, string[] allowed, bool textToo = false)
    {
        Assert.Equal("tool_calls", answer.GetProperty("finish_reason").GetString());
        if (!textToo)
        {
            Assert.Equal(JsonValueKind.Null, answer.GetProperty("content").ValueKind);
        }

        var calls = answer.GetProperty("tool_calls").EnumerateArray().ToList();
        Assert.NotEmpty(calls);
        foreach (var call in calls)
        {
            Assert.Matches(CallId(), call.GetProperty("id").GetString());
            Assert.Equal("function", call.GetProperty("type").GetString());
            var name = call.GetProperty("function").GetProperty("name").GetString()!;
            Assert.Contains(name, allowed);
            var arguments = call.GetProperty("function").GetProperty("arguments").GetString()!;
            Assert.Empty(Validators[name].Validate(arguments));
        }

        Assert.Equal(calls.Count, calls.Select(c => c.GetProperty("id").GetString()).Distinct().Count());
        return calls;
    }

    private static string Signature(JsonElement call) =>
        call.GetProperty("function").GetProperty("name").GetString() + " " + call.GetProperty("function").GetProperty("arguments").GetString();

    /// <summary>As OpenAI streams calls: a call's first piece has index, id, type, name and arguments ""; later pieces only index and arguments.</summary>
    private static void AssertPieces(JsonElement pieces)
    {
        var seen = new HashSet<int>();
        foreach (var piece in pieces.EnumerateArray())
        {
            var index = piece.GetProperty("index").GetInt32();
            var function = piece.GetProperty("function");
            if (seen.Add(index))
            {
                Assert.Matches(CallId(), piece.GetProperty("id").GetString());
                Assert.Equal("function", piece.GetProperty("type").GetString());
                Assert.True(function.TryGetProperty("name", out _), piece.ToString());
                Assert.Equal("", function.GetProperty("arguments").GetString());
            }
            else
            {
                Assert.False(piece.TryGetProperty("id", out _), piece.ToString());
                Assert.False(function.TryGetProperty("name", out _), piece.ToString());
            }
        }

        Assert.NotEmpty(seen);
    }

    private static void AssertRefusal(JsonElement refusal, string param)
    {
        Assert.True(refusal.GetProperty("raised").GetBoolean(), $"the client accepted a request the server should refuse ({param})");
        Assert.Equal("BadRequestError", refusal.GetProperty("class").GetString());
        Assert.Equal(400, refusal.GetProperty("status").GetInt32());
        Assert.Equal(param, refusal.GetProperty("param").GetString());
    }

    private static JsonDocument RunClient(EngineServer server, object cases)
    {
        var casesPath = TestScratch.Path($"openai-tools-{Guid.NewGuid():N}.json");
        File.WriteAllText(casesPath, JsonSerializer.Serialize(cases));
        try
        {
            var script = Path.Combine(AppContext.BaseDirectory, "OpenAiClient", "openai-tools.mjs");
            var baseUrl = new Uri(server.BaseUri, "v1").ToString();
            var (exitCode, stdout, stderr) = TestAssets.Run("node", [script, TestAssets.NodeModules, baseUrl, casesPath], TimeSpan.FromMinutes(3));
            Assert.True(exitCode == 0, $"node {script} failed ({exitCode}): {stderr}");
            return JsonDocument.Parse(stdout);
        }
        finally
        {
            File.Delete(casesPath);
        }
    }
}
