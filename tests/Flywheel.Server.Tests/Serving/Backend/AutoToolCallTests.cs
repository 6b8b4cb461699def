using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Flywheel.Models.Building;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Server.Tests.Testing;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>
/// tool_choice auto end to end (HTTP, engine, ONNX Runtime, the tiny model). A random-weight model never starts a call
/// by itself, so the first attempt's opening tokens are forced through the backend's constraint seam, on top of the
/// server's own constraint (a forced token the server's constraint refuses ends the request in an error): from there
/// the model writes on its own, under whatever the server enforces. Two families: the tiny model's template names no
/// format (Hermes tags), and a copy whose template mentions the python tag (Llama-3 JSON calls).
/// </summary>
public sealed class AutoToolCallTests : IAsyncLifetime
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"],"additionalProperties":false}""";
    private static readonly JsonSchemaValidator Weather = JsonSchemaValidator.Create(WeatherSchema);

    private EngineServer _hermes = null!;
    private EngineServer _llama = null!;

    public async Task InitializeAsync()
    {
        var options = ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 1024 };
        _hermes = await EngineServer.StartAsync("server-auto-hermes", options, new EngineOptions());
        _llama = await EngineServer.StartAsync("server-auto-llama", options, new EngineOptions(), afterBuild: dir =>
        {
            // The synthetic template with a word of Llama 3.1's: the server reads calls as Llama-3 JSON.
            var path = Path.Combine(dir, "tokenizer_config.json");
            var config = JsonNode.Parse(File.ReadAllText(path))!;
            config["chat_template"] = config["chat_template"]!.GetValue<string>() + "{# a call may follow <|python_tag|> #}";
            File.WriteAllText(path, config.ToJsonString());
        });
    }

    public async Task DisposeAsync()
    {
        await _hermes.DisposeAsync();
        await _llama.DisposeAsync();
    }

    [Fact]
    public async Task A_Llama3_answer_that_opens_with_a_brace_is_held_to_a_valid_call()
    {
        var body = await Ask(_llama, "{", stop: null);
        var call = AssertCall(body);
        Assert.Equal(0, body.GetProperty("structured_output").GetProperty("repairs").GetInt32());
        Assert.Equal("get_weather", call.GetProperty("name").GetString());
    }

    [Theory]
    [InlineData(false, "<tool_call>", "{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Zqx")]
    [InlineData(true, "", "{\"name\":\"get_weather\",\"parameters\":{\"city\":\"Zqx")]
    public async Task A_call_cut_by_a_stop_string_is_repaired_into_a_valid_call(bool llama, string marker, string call)
    {
        var body = await Ask(llama ? _llama : _hermes, marker, stop: "Zqx", then: call);
        AssertCall(body);
        var report = body.GetProperty("structured_output");
        Assert.True(report.GetProperty("valid").GetBoolean());
        Assert.Equal(1, report.GetProperty("repairs").GetInt32());
    }

    [Fact]
    public async Task A_call_that_repairs_cannot_mend_fails_clearly_instead_of_passing_as_text()
    {
        // Every call (the repairs' too) must write "parameters", where the stop string cuts it.
        var body = await Ask(_llama, "{", stop: "parameters");
        var choice = body.GetProperty("choices")[0];
        Assert.NotEqual("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array);
        var report = body.GetProperty("structured_output");
        Assert.False(report.GetProperty("valid").GetBoolean());
        Assert.Equal(2, report.GetProperty("repairs").GetInt32());
        Assert.Contains(report.GetProperty("errors").EnumerateArray(), e => e.GetString()!.StartsWith("tool_calls", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Max_repairs_bounds_the_repair_of_a_broken_call()
    {
        var body = await Ask(_llama, "{", stop: "parameters", extra: new JsonObject { ["max_repairs"] = 1 });
        var report = body.GetProperty("structured_output");
        Assert.False(report.GetProperty("valid").GetBoolean());
        Assert.Equal(1, report.GetProperty("repairs").GetInt32());
    }

    [Fact]
    public async Task Without_constrained_decoding_the_trigger_is_off_and_a_valid_call_is_still_read()
    {
        ITokenConstraint? seen = new ForcedTokens(null, [], 1);
        var body = await Ask(_hermes, "<tool_call>", stop: null, then: ValidCall, extra: new JsonObject { ["constrained_decoding"] = false },
            after: ["\n</tool_call>"], seen: inner => seen = inner);
        Assert.Null(seen); // no ToolCallTrigger: the model wrote freely
        AssertCall(body);
        var report = body.GetProperty("structured_output");
        Assert.True(report.GetProperty("valid").GetBoolean(), body.ToString());
        Assert.False(report.GetProperty("constrained").GetBoolean());
    }

    [Fact]
    public async Task Without_constrained_decoding_an_invalid_call_comes_back_as_text_reported_invalid()
    {
        // "unit" is required: the grammar would have refused the closing brace; unconstrained, the call is written and fails validation.
        var body = await Ask(_hermes, "<tool_call>", stop: null, then: """{"name":"get_weather","arguments":{"city":"Paris"}}""",
            extra: new JsonObject { ["constrained_decoding"] = false, ["max_repairs"] = 0 }, after: ["\n</tool_call>"]);
        var choice = body.GetProperty("choices")[0];
        Assert.NotEqual("tool_calls", choice.GetProperty("finish_reason").GetString());
        Assert.False(choice.GetProperty("message").TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array);
        Assert.StartsWith("<tool_call>", choice.GetProperty("message").GetProperty("content").GetString());
        var report = body.GetProperty("structured_output");
        Assert.False(report.GetProperty("valid").GetBoolean());
        Assert.False(report.GetProperty("constrained").GetBoolean());
        Assert.Equal(0, report.GetProperty("repairs").GetInt32());
        Assert.Contains(report.GetProperty("errors").EnumerateArray(), e => e.GetString()!.StartsWith("tool_calls[0]", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_invalid_call_counts_as_one_validation_failure_whole_and_streamed()
    {
        // Unconstrained, the call without the required "unit" is written and fails validation: once per answer.
        const string invalid = """{"name":"get_weather","arguments":{"city":"Paris"}}""";
        var extra = new JsonObject { ["constrained_decoding"] = false, ["max_repairs"] = 0 };
        string[] after = ["\n</tool_call>"];
        foreach (var stream in new[] { false, true })
        {
            var before = await _hermes.Client.GetStringAsync("/metrics");
            extra["stream"] = stream;
            using var response = await _hermes.Client.PostAsync("/v1/chat/completions", Request(_hermes, "<tool_call>", null, invalid, extra, after, null));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            Assert.Contains("\"valid\":false", text);
            var metrics = await _hermes.Client.GetStringAsync("/metrics");
            const string failures = "flywheel_structured_validation_failures_total";
            Assert.True(StructuredOutputTests.Counter(metrics, failures) - StructuredOutputTests.Counter(before, failures) == 1, $"stream: {stream}");
        }
    }

    [Fact]
    public async Task Without_constrained_decoding_a_required_call_is_only_validated()
    {
        ITokenConstraint? seen = new ForcedTokens(null, [], 1);
        var body = await Ask(_hermes, "", stop: null, extra: new JsonObject { ["tool_choice"] = "required", ["constrained_decoding"] = false, ["max_repairs"] = 0 },
            seen: inner => seen = inner);
        Assert.Null(seen);
        // Random weights, unmasked, write no call: the answer is text, reported invalid, never a made-up call.
        var choice = body.GetProperty("choices")[0];
        Assert.NotEqual("tool_calls", choice.GetProperty("finish_reason").GetString());
        var report = body.GetProperty("structured_output");
        Assert.False(report.GetProperty("valid").GetBoolean());
        Assert.False(report.GetProperty("constrained").GetBoolean());
        Assert.Equal(0, report.GetProperty("repairs").GetInt32());
    }

    [Fact]
    public async Task Text_after_a_call_is_content_whole_and_streamed()
    {
        string[] after = ["\n</tool_call>", "\nDone."];
        var whole = await Ask(_hermes, "<tool_call>", stop: null, then: ValidCall, after: after);
        var call = AssertCall(whole);
        var content = whole.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        Assert.True(content?.StartsWith("Done.", StringComparison.Ordinal), whole.ToString());

        var (streamedContent, streamedCalls) = await AskStreamed(_hermes, "<tool_call>", ValidCall, after);
        Assert.Equal(content, streamedContent);
        var streamed = Assert.Single(streamedCalls);
        Assert.Equal((call.GetProperty("name").GetString(), call.GetProperty("arguments").GetString()), (streamed.Name, streamed.Arguments));
    }

    private const string ValidCall = """{"name":"get_weather","arguments":{"city":"Paris","unit":"celsius"}}""";

    /// <summary>
    /// One auto request whose first attempt is forced to begin with <paramref name="marker"/>, <paramref name="then"/> and
    /// each of <paramref name="after"/> (each tokenized on its own); <paramref name="seen"/> sees the server's own constraint.
    /// </summary>
    private static async Task<JsonElement> Ask(EngineServer server, string marker, string? stop, string then = "", JsonObject? extra = null,
        string[]? after = null, Action<ITokenConstraint?>? seen = null)
    {
        using var response = await server.Client.PostAsync("/v1/chat/completions", Request(server, marker, stop, then, extra, after, seen));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>As <see cref="Ask"/>, streamed: the content and the calls assembled from the chunks as a client does.</summary>
    private static async Task<(string Content, List<(string Name, string Arguments)> Calls)> AskStreamed(EngineServer server, string marker, string then, string[] after)
    {
        using var response = await server.Client.PostAsync("/v1/chat/completions", Request(server, marker, null, then, new JsonObject { ["stream"] = true }, after, null));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var content = new System.Text.StringBuilder();
        var calls = new List<(string Name, System.Text.StringBuilder Arguments)>();
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("data: {", StringComparison.Ordinal))
            {
                continue;
            }

            using var chunk = JsonDocument.Parse(line["data: ".Length..]);
            foreach (var choice in chunk.RootElement.GetProperty("choices").EnumerateArray())
            {
                var delta = choice.GetProperty("delta");
                if (delta.TryGetProperty("content", out var piece) && piece.ValueKind == JsonValueKind.String)
                {
                    content.Append(piece.GetString());
                }

                foreach (var call in delta.TryGetProperty("tool_calls", out var pieces) ? pieces.EnumerateArray() : default)
                {
                    var index = call.GetProperty("index").GetInt32();
                    var function = call.GetProperty("function");
                    if (index == calls.Count)
                    {
                        calls.Add((function.GetProperty("name").GetString()!, new System.Text.StringBuilder()));
                    }

                    calls[index].Arguments.Append(function.GetProperty("arguments").GetString());
                }
            }
        }

        return (content.ToString(), [.. calls.Select(c => (c.Name, c.Arguments.ToString()))]);
    }

    private static StringContent Request(EngineServer server, string marker, string? stop, string then, JsonObject? extra, string[]? after, Action<ITokenConstraint?>? seen)
    {
        int[] forced = [.. server.Tokenizer.Encode(marker), .. server.Tokenizer.Encode(then), .. (after ?? []).SelectMany(a => server.Tokenizer.Encode(a))];
        var attempts = 0;
        server.Backend.WrapConstraint = inner =>
        {
            if (Interlocked.Increment(ref attempts) != 1)
            {
                return inner;
            }

            seen?.Invoke(inner);
            return new ForcedTokens(inner, forced, server.Tokenizer.VocabSize);
        };
        var request = new JsonObject
        {
            ["model"] = server.Model.Name,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" }),
            ["max_tokens"] = 160,
            ["temperature"] = 0,
            ["tool_choice"] = "auto",
            ["tools"] = new JsonArray(new JsonObject
            {
                ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = "get_weather", ["parameters"] = JsonNode.Parse(WeatherSchema) },
            }),
        };
        if (stop is not null)
        {
            request["stop"] = stop;
        }

        foreach (var (key, value) in extra ?? [])
        {
            request[key] = value?.DeepClone();
        }

        return new StringContent(request.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
    }

    /// <summary>The answer is one call whose arguments validate; returns its function object.</summary>
    private static JsonElement AssertCall(JsonElement body)
    {
        var choice = body.GetProperty("choices")[0];
        Assert.True(choice.GetProperty("finish_reason").GetString() == "tool_calls", body.ToString());
        var function = Assert.Single(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray()).GetProperty("function");
        Assert.Equal("get_weather", function.GetProperty("name").GetString());
        Assert.Empty(Weather.Validate(function.GetProperty("arguments").GetString()!));
        return function;
    }
}
