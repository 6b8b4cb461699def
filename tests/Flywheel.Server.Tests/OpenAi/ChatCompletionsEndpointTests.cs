using System.Net;
using System.Text.Json;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.OpenAi;

public sealed class ChatCompletionsEndpointTests
{
    [Fact]
    public async Task NonStreamingBodyIsOpenAiShaped()
    {
        await using var server = await StartAsync();
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("hello world"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await JsonAsync(response);
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.InRange(body.GetProperty("created").GetInt64(), before, before + 60);
        Assert.Equal(Model, body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(" hello world", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());

        // Fallback template "user: hello world\nassistant: " is 4 scripted tokens.
        var usage = body.GetProperty("usage");
        Assert.Equal((4, 2, 6), (usage.GetProperty("prompt_tokens").GetInt32(), usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32()));
    }

    [Fact]
    public async Task MaxTokensEndsWithLength()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("a b c d", ""","max_tokens":2"""));
        var choice = (await JsonAsync(response)).GetProperty("choices")[0];
        Assert.Equal(" a b", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamIsFramedAndShapedLikeOpenAi()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("hello world", ""","stream":true"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        var chunks = await Sse.ReadAllAsync(response);
        Assert.Equal(4, chunks.Count);
        var id = chunks[0].GetProperty("id").GetString();
        Assert.StartsWith("chatcmpl-", id);
        foreach (var chunk in chunks)
        {
            Assert.Equal(id, chunk.GetProperty("id").GetString());
            Assert.Equal("chat.completion.chunk", chunk.GetProperty("object").GetString());
            Assert.Equal(Model, chunk.GetProperty("model").GetString());
            Assert.False(chunk.TryGetProperty("usage", out _), "usage is left out unless include_usage");
            Assert.Equal(JsonValueKind.Null, chunk.GetProperty("choices")[0].GetProperty("logprobs").ValueKind);
        }

        Assert.Equal("""{"role":"assistant","content":""}""", Delta(chunks[0]).GetRawText());
        Assert.Equal("""{"content":" hello"}""", Delta(chunks[1]).GetRawText());
        Assert.Equal("""{"content":" world"}""", Delta(chunks[2]).GetRawText());
        Assert.Equal("{}", Delta(chunks[3]).GetRawText());
        Assert.Equal([JsonValueKind.Null, JsonValueKind.Null, JsonValueKind.Null], chunks.Take(3).Select(c => c.GetProperty("choices")[0].GetProperty("finish_reason").ValueKind));
        Assert.Equal("stop", chunks[3].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task IncludeUsageAddsUsageChunkAndNullUsageElsewhere()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("x y z", ""","stream":true,"stream_options":{"include_usage":true},"max_tokens":2"""));

        var chunks = await Sse.ReadAllAsync(response);
        Assert.Equal(5, chunks.Count); // role, " x", " y", finish, usage
        foreach (var chunk in chunks.Take(4))
        {
            Assert.Equal(JsonValueKind.Null, chunk.GetProperty("usage").ValueKind);
        }

        Assert.Equal("length", chunks[3].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        var last = chunks[4];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal("chat.completion.chunk", last.GetProperty("object").GetString());
        Assert.Equal(2, last.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(5 + 2, last.GetProperty("usage").GetProperty("total_tokens").GetInt32()); // "user: x y z assistant:" + 2
    }

    [Fact]
    public async Task LogprobsAreReturnedWhenAsked()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("héllo there", ""","logprobs":true,"top_logprobs":2"""));

        var content = (await JsonAsync(response)).GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(2, content.GetArrayLength());
        var first = content[0];
        Assert.Equal(" héllo", first.GetProperty("token").GetString());
        Assert.Equal(0.0, first.GetProperty("logprob").GetDouble());
        Assert.Equal(" héllo"u8.ToArray().Select(b => (int)b), first.GetProperty("bytes").EnumerateArray().Select(b => b.GetInt32()));
        var top = first.GetProperty("top_logprobs");
        Assert.Equal(2, top.GetArrayLength());
        Assert.Equal(" héllo", top[0].GetProperty("token").GetString());
        Assert.Equal(" alt1", top[1].GetProperty("token").GetString());
        Assert.Equal(-0.25, content[1].GetProperty("logprob").GetDouble());
    }

    [Fact]
    public async Task StreamedLogprobsTravelWithTheirDelta()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/chat/completions", Chat("p q", ""","stream":true,"logprobs":true"""));

        var chunks = await Sse.ReadAllAsync(response);
        var entry = Assert.Single(chunks[2].GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray());
        Assert.Equal(" q", entry.GetProperty("token").GetString());
        Assert.Equal(0, entry.GetProperty("top_logprobs").GetArrayLength());
    }

    private static JsonElement Delta(JsonElement chunk) => chunk.GetProperty("choices")[0].GetProperty("delta");
}
