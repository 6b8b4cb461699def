using System.Text.Json;
using Flywheel.Server.OpenAi;
using Flywheel.Serving;

namespace Flywheel.Server.Tests.OpenAi;

public sealed class OpenAiRequestParserTests
{
    private static ApiRequest Chat(string json) => OpenAiRequestParser.ParseChat(JsonDocument.Parse(json).RootElement);

    private static ApiRequest Completion(string json) => OpenAiRequestParser.ParseCompletion(JsonDocument.Parse(json).RootElement);

    private static OpenAiError ChatError(string json) => Assert.Throws<OpenAiError>(() => Chat(json));

    [Fact]
    public void ChatRequestFillsOpenAiDefaults()
    {
        var r = Chat("""{"model":"m","messages":[{"role":"user","content":"hi"}]}""");
        Assert.True(r.IsChat);
        Assert.Equal(1.0, r.Temperature);
        Assert.Equal(1.0, r.TopP);
        Assert.Equal(0, r.TopK);
        Assert.Null(r.MaxTokens);
        Assert.Null(r.TopLogprobs);
        Assert.Empty(r.Stop);
        Assert.Equal(ResponseFormatKind.Text, r.ResponseFormat.Kind);
        Assert.Equal("hi", Assert.Single(r.Messages!).Content);
    }

    [Fact]
    public void ChatRequestReadsEveryField()
    {
        var r = Chat("""
            {"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
             "max_tokens":5,"max_completion_tokens":7,"temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,"seed":123,
             "stop":["x","y"],"presence_penalty":0.5,"frequency_penalty":-0.5,"repetition_penalty":1.1,"logprobs":true,"top_logprobs":3,
             "stream":true,"stream_options":{"include_usage":true},"user":"u","n":1,"ignore_eos":true,
             "response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object"},"strict":true}}}
            """);
        Assert.Equal(7, r.MaxTokens);
        Assert.Equal((0.5, 0.9, 40, 0.05, 123L), (r.Temperature, r.TopP, r.TopK, r.MinP, r.Seed!.Value));
        Assert.Equal(["x", "y"], r.Stop);
        Assert.Equal((0.5, -0.5, 1.1), (r.PresencePenalty, r.FrequencyPenalty, r.RepetitionPenalty));
        Assert.Equal(3, r.TopLogprobs);
        Assert.True(r.Stream && r.IncludeUsage && r.IgnoreEos);
        Assert.Equal("ab", r.Messages![1].Content);
        Assert.Equal(ResponseFormatKind.JsonSchema, r.ResponseFormat.Kind);
        Assert.Equal("""{"type":"object"}""", r.ResponseFormat.SchemaJson);
        Assert.True(r.ResponseFormat.Strict);
    }

    [Theory]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"temprature":1}""", "temprature", "unknown_parameter")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}""", "temperature", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":2.5}""", "temperature", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0}""", "top_p", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}""", "max_tokens", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}""", "max_tokens", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"n":2}""", "n", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]}""", "stop", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":2}""", "top_logprobs", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}""", "stream_options", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"usage":true}}""", "stream_options.usage", "unknown_parameter")]
    [InlineData("""{"model":"m","messages":[{"role":"wizard","content":"x"}]}""", "messages[0].role", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user"}]}""", "messages[0].content", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}""", "messages[0].content[0].type", null)]
    [InlineData("""{"model":"m","messages":[]}""", "messages", null)]
    [InlineData("""{"messages":[{"role":"user","content":"x"}]}""", "model", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}""", "tools", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}}""", "response_format.type", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}}""", "response_format.json_schema", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"},"json_whitespace":"tight"}""", "json_whitespace", null)]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"},"json_whitespace":0}""", "json_whitespace", "invalid_type")]
    [InlineData("""{"model":"m","messages":[{"role":"user","content":"x"}],"json_whitespace":"compact"}""", "json_whitespace", null)]
    public void BadChatRequestsNameTheParameter(string json, string param, string? code)
    {
        var e = ChatError(json);
        Assert.Equal(400, e.StatusCode);
        Assert.Equal(param, e.Param);
        Assert.Contains(param.Split('.')[^1].Split('[')[0], e.Message);
        if (code is not null)
        {
            Assert.Equal(code, e.Code);
        }
    }

    [Theory]
    [InlineData(null, JsonWhitespace.Bounded)]
    [InlineData("\"bounded\"", JsonWhitespace.Bounded)]
    [InlineData("\"compact\"", JsonWhitespace.Compact)]
    [InlineData("\"any\"", JsonWhitespace.Any)]
    public void JsonWhitespaceChoosesTheFormatsWhitespace(string? value, JsonWhitespace expected)
    {
        var field = value is null ? "" : $",\"json_whitespace\":{value}";
        var chat = Chat("""{"model":"m","messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}""" + field + "}");
        Assert.Equal(expected, chat.ResponseFormat.Whitespace);
        var completion = Completion("""{"model":"m","prompt":"x","response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{}}}""" + field + "}");
        Assert.Equal(expected, completion.ResponseFormat.Whitespace);
    }

    [Fact]
    public void CompletionAcceptsStringOrSingletonArrayPrompt()
    {
        Assert.Equal("abc", Completion("""{"model":"m","prompt":"abc","logprobs":2}""").Prompt);
        Assert.Equal("abc", Completion("""{"model":"m","prompt":["abc"]}""").Prompt);
        var e = Assert.Throws<OpenAiError>(() => Completion("""{"model":"m","prompt":["a","b"]}"""));
        Assert.Equal("prompt", e.Param);
        Assert.Equal("messages", Assert.Throws<OpenAiError>(() => Completion("""{"model":"m","prompt":"a","messages":[]}""")).Param);
    }

    [Fact]
    public void NonObjectBodyIsRejected()
    {
        var e = Assert.Throws<OpenAiError>(() => Chat("[1,2]"));
        Assert.Equal(400, e.StatusCode);
    }
}
