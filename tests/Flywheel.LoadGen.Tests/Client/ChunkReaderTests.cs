using System.Text.Json;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Client;

public sealed class ChunkReaderTests
{
    [Theory]
    [InlineData("""{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}""", false)]
    [InlineData("""{"choices":[{"index":0,"delta":{"content":"Hi"}}]}""", true)]
    [InlineData("""{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}""", true)]
    [InlineData("""{"choices":[{"index":0,"delta":{"content":null},"finish_reason":"length"}]}""", false)]
    [InlineData("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}""", false)]
    [InlineData("""{"object":"chat.completion.chunk"}""", false)]
    public void Chat_chunks_count_when_they_carry_text(string json, bool expected)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(expected, ChunkReader.HasContent(doc.RootElement, ApiEndpoint.Chat, streaming: true));
    }

    [Fact]
    public void Completions_and_whole_responses_use_their_own_fields()
    {
        using var completion = JsonDocument.Parse("""{"choices":[{"index":0,"text":" the"}]}""");
        Assert.True(ChunkReader.HasContent(completion.RootElement, ApiEndpoint.Completions, streaming: true));
        Assert.False(ChunkReader.HasContent(completion.RootElement, ApiEndpoint.Chat, streaming: true));
        using var message = JsonDocument.Parse("""{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"}}]}""");
        Assert.True(ChunkReader.HasContent(message.RootElement, ApiEndpoint.Chat, streaming: false));
    }

    [Theory]
    [InlineData("""{"error":{"message":"bad schema","type":"invalid_request_error"}}""", true, "bad schema")]
    [InlineData("""{"error":"overloaded"}""", true, "overloaded")]
    [InlineData("""{"error":null,"choices":[]}""", false, "")]
    [InlineData("""{"choices":[]}""", false, "")]
    public void Errors_are_recognised_with_their_message(string json, bool expected, string message)
    {
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(expected, ChunkReader.TryGetError(doc.RootElement, out var actual));
        Assert.Equal(message, actual);
    }

    [Fact]
    public void Body_carries_planned_lengths_and_ignore_eos_only_when_asked()
    {
        var plan = new RequestPlan(0, ApiEndpoint.Completions, Stream: false, "a b", 2, MaxTokens: 7, SchemaJson: null, Temperature: 0.5, IgnoreEos: false);
        using var body = JsonDocument.Parse(RequestBodyWriter.Write(plan, model: null));
        var root = body.RootElement;
        Assert.Equal("a b", root.GetProperty("prompt").GetString());
        Assert.Equal(7, root.GetProperty("max_tokens").GetInt32());
        Assert.Equal(0.5, root.GetProperty("temperature").GetDouble());
        Assert.False(root.TryGetProperty("ignore_eos", out _));
        Assert.False(root.TryGetProperty("model", out _));
        Assert.False(root.TryGetProperty("stream_options", out _));

        var structured = plan with { Endpoint = ApiEndpoint.Chat, Stream = true, SchemaJson = """{"type":"object"}""", IgnoreEos = false };
        using var chat = JsonDocument.Parse(RequestBodyWriter.Write(structured, "m"));
        var format = chat.RootElement.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("object", format.GetProperty("json_schema").GetProperty("schema").GetProperty("type").GetString());
        Assert.Equal("user", chat.RootElement.GetProperty("messages")[0].GetProperty("role").GetString());
    }
}
