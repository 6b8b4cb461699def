using System.Net;
using System.Text.Json;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.OpenAi;

public sealed class CompletionsEndpointTests
{
    [Fact]
    public async Task NonStreamingBodyIsTextCompletion()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/completions", Completion("one two three", ""","max_tokens":5"""));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(Model, body.GetProperty("model").GetString());
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(" one two three", choice.GetProperty("text").GetString());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(3, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task StreamHeadersArriveBeforeTheFirstToken()
    {
        // A queued request may wait long for its first token; its client must see 200 and the event-stream
        // type at once (completions have no opening chunk to carry the headers out).
        await using var server = await StartAsync();
        server.Backend.Pause();
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var response = await server.PostAsync("/v1/completions", Completion("a b", ""","stream":true"""), bound.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        server.Backend.Resume();
        Assert.Equal("stop", (await Sse.ReadAllAsync(response))[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task IgnoreEosCyclesUntilMaxTokens()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/completions", Completion("a b", ""","max_tokens":5,"ignore_eos":true"""));
        var choice = (await JsonAsync(response)).GetProperty("choices")[0];
        Assert.Equal(" a b a b a", choice.GetProperty("text").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task LegacyLogprobsAreParallelArrays()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/completions", Completion("ab cd", ""","logprobs":2"""));

        var logprobs = (await JsonAsync(response)).GetProperty("choices")[0].GetProperty("logprobs");
        Assert.Equal([" ab", " cd"], logprobs.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal([0.0, -0.25], logprobs.GetProperty("token_logprobs").EnumerateArray().Select(t => t.GetDouble()));
        Assert.Equal([0, 3], logprobs.GetProperty("text_offset").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal("""{" cd":-0.25," alt1":-1.25}""", logprobs.GetProperty("top_logprobs")[1].GetRawText());
    }

    [Fact]
    public async Task StreamSendsTextCompletionChunksThenUsageThenDone()
    {
        await using var server = await StartAsync();
        using var response = await server.PostAsync("/v1/completions", Completion("u v", ""","stream":true,"stream_options":{"include_usage":true},"logprobs":0"""));

        var chunks = await Sse.ReadAllAsync(response);
        Assert.Equal(4, chunks.Count); // " u", " v", finish, usage
        Assert.All(chunks, c => Assert.Equal("text_completion", c.GetProperty("object").GetString()));
        Assert.All(chunks.Take(3), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal([" u", " v", ""], chunks.Take(3).Select(c => c.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(2, chunks[1].GetProperty("choices")[0].GetProperty("logprobs").GetProperty("text_offset")[0].GetInt32());
        Assert.Equal("stop", chunks[2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, chunks[3].GetProperty("choices").GetArrayLength());
        Assert.Equal(2, chunks[3].GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }
}
