using System.Net;
using System.Text.Json;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Serving;
using Flywheel.Tokenization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>The real path: Kestrel on 127.0.0.1, the engine backend, ONNX Runtime and a tiny built model.</summary>
public sealed class EngineBackendTests : IAsyncLifetime
{
    private EngineServer _server = null!;

    private ModelFolder _model => _server.Model;

    private Tokenizer _tokenizer => _server.Tokenizer;

    public async Task InitializeAsync() =>
        _server = await EngineServer.StartAsync("server-tiny", ModelBuilderOptions.Tiny with { VocabSize = 600 }, new Flywheel.Scheduling.EngineOptions());

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var response = await _server.Client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task ChatCompletionCountsTheTemplatedPromptAndGeneratesMaxTokens()
    {
        var model = _model.Name;
        var (status, body) = await PostAsync("/v1/chat/completions", $$"""{"model":"{{model}}","messages":[{"role":"user","content":"Hello there"}],"max_tokens":7,"ignore_eos":true}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var usage = body.GetProperty("usage");
        var rendered = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
        Assert.Equal(_tokenizer.Encode(rendered).Length, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(7, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task SeededCompletionsAreReproducibleAndGreedyMatchesTheGenerator()
    {
        var model = _model.Name;
        var request = $$"""{"model":"{{model}}","prompt":"The engine runs","max_tokens":10,"temperature":0.9,"seed":5,"ignore_eos":true}""";
        var first = (await PostAsync("/v1/completions", request)).Body.GetProperty("choices")[0].GetProperty("text").GetString();
        var second = (await PostAsync("/v1/completions", request)).Body.GetProperty("choices")[0].GetProperty("text").GetString();
        Assert.Equal(first, second);

        var greedy = (await PostAsync("/v1/completions", $$"""{"model":"{{model}}","prompt":"The engine runs","max_tokens":10,"temperature":0,"ignore_eos":true}""")).Body;
        using var generator = new Flywheel.Execution.TextGenerator(_model, _tokenizer);
        var expected = generator.Generate(generator.EncodePrompt("The engine runs"), new Flywheel.Execution.GenerateParams { MaxTokens = 10, IgnoreEos = true });
        Assert.Equal(expected.Text, greedy.GetProperty("choices")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task StopStringEndsTheRequestAndIsNotReturned()
    {
        var model = _model.Name;
        var free = (await PostAsync("/v1/completions", $$"""{"model":"{{model}}","prompt":"The engine runs","max_tokens":30,"temperature":0,"ignore_eos":true}""")).Body;
        var text = free.GetProperty("choices")[0].GetProperty("text").GetString()!;
        var stop = text.Substring(text.Length / 2, 3);
        var cut = text[..text.IndexOf(stop, StringComparison.Ordinal)];
        var (status, body) = await PostAsync("/v1/completions",
            $$"""{"model":"{{model}}","prompt":"The engine runs","max_tokens":30,"temperature":0,"ignore_eos":true,"stop":[{{JsonSerializer.Serialize(stop)}}]}""");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(cut, body.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task ChatLogprobsAndPenaltiesAreHonoured()
    {
        var model = _model.Name;
        var (status, body) = await PostAsync("/v1/chat/completions",
            $$"""{"model":"{{model}}","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"ignore_eos":true,"logprobs":true,"top_logprobs":3,"presence_penalty":1.5,"min_p":0.01,"temperature":0.7,"seed":1}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var content = body.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content");
        Assert.Equal(5, content.GetArrayLength());
        foreach (var token in content.EnumerateArray())
        {
            var top = token.GetProperty("top_logprobs");
            Assert.Equal(3, top.GetArrayLength());
            Assert.True(token.GetProperty("logprob").GetDouble() <= 0);
            Assert.True(top[0].GetProperty("logprob").GetDouble() >= top[2].GetProperty("logprob").GetDouble());
        }
    }

    [Fact]
    public async Task OverlongPromptAndUnenforceableSchemaAre400()
    {
        var model = _model.Name;
        var longPrompt = string.Join(" ", Enumerable.Repeat("token", 2000));
        var (status, body) = await PostAsync("/v1/completions", $$"""{"model":"{{model}}","prompt":"{{longPrompt}}"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("context_length_exceeded", body.GetProperty("error").GetProperty("code").GetString());
        (status, body) = await PostAsync("/v1/completions",
            $$"""{"model":"{{model}}","prompt":"x","response_format":""" + """{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object","properties":{"n":{"type":"array","uniqueItems":true}}}}}""" + "}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("response_format.json_schema.schema", body.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("'uniqueItems' at '#/properties/n'", body.GetProperty("error").GetProperty("message").GetString());
    }
}

/// <summary>Many concurrent streams over the real model: every one completes with its own output.</summary>
public sealed class EngineBackendConcurrencyTests
{
    [Fact]
    public async Task TwoHundredConcurrentStreamsGetTheirOwnOutputs()
    {
        await using var server = await EngineServer.StartAsync("server-conc", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new Flywheel.Scheduling.EngineOptions { QueueCapacity = 256, MaxRunningRequests = 8, MaxBatchTokens = 64, ChunkSize = 16 });
        var (model, tokenizer, client) = (server.Model, server.Tokenizer, server.Client);

        // Expected: what the single-request generator produces for each prompt, greedily.
        var prompts = Enumerable.Range(0, 200).Select(i => $"request number {i} says {i * 7919 % 1000}").ToArray();
        using var generator = new Flywheel.Execution.TextGenerator(model, tokenizer);
        var expected = prompts.Select(p => generator.Generate(generator.EncodePrompt(p), new Flywheel.Execution.GenerateParams { MaxTokens = 6, IgnoreEos = true }).Text).ToArray();

        var results = await Task.WhenAll(prompts.Select(async prompt =>
        {
            var body = $$"""{"model":"{{model.Name}}","prompt":{{JsonSerializer.Serialize(prompt)}},"max_tokens":6,"temperature":0,"ignore_eos":true,"stream":true}""";
            using var response = await client.PostAsync("/v1/completions", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var chunks = Sse.Parse(await response.Content.ReadAsStringAsync());
            return string.Concat(chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray()).Select(c => c.GetProperty("text").GetString()));
        }));
        Assert.Equal(expected, results);
        Assert.True(expected.Distinct().Count() > 100, "prompts should lead to different outputs");
    }
}

/// <summary>A client that goes away mid-stream aborts its request in the engine and frees its slot.</summary>
public sealed class EngineBackendDisconnectTests
{
    [Fact]
    public async Task AReaderThatStopsEarlyAbortsTheEngineRequest()
    {
        // A write to a vanished client can fail before the server's abort token fires; the reader then just
        // stops. The engine request must not run on to max_tokens.
        await using var server = await EngineServer.StartAsync("server-long", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 32768 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 16 });
        var backend = server.Backend;
        var request = Flywheel.Server.OpenAi.OpenAiRequestParser.ParseCompletion(
            JsonDocument.Parse($$"""{"model":"{{server.Model.Name}}","prompt":"go on","max_tokens":32000,"ignore_eos":true,"stream":true}""").RootElement);
        var submitted = backend.TrySubmit(backend.Prepare(request), request, CancellationToken.None);
        await foreach (var update in submitted.Updates!)
        {
            Assert.IsType<TextDelta>(update);
            Assert.Equal(1, backend.Engine.RunningCount);
            break; // leaves without cancelling anything
        }

        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (backend.Engine.RunningCount > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(0, backend.Engine.RunningCount);
        Assert.True(backend.Engine.StepCount < 30000, "the request ran on: it was not aborted");
    }

    [Fact]
    public async Task DisconnectAbortsTheRequestInTheEngine()
    {
        // A generation far longer than disconnect detection takes (the server notices on a failed write).
        await using var server = await EngineServer.StartAsync("server-long", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 32768 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 16 });
        var (model, backend) = (server.Model, server.Backend);
        // A raw socket, so "going away" is exactly a closed connection.
        var uri = server.BaseUri;
        var body = $$"""{"model":"{{model.Name}}","prompt":"go on","max_tokens":32000,"ignore_eos":true,"stream":true}""";
        using (var socket = new System.Net.Sockets.TcpClient())
        {
            await socket.ConnectAsync(uri.Host, uri.Port);
            var stream = socket.GetStream();
            var head = $"POST /v1/completions HTTP/1.1\r\nHost: {uri.Host}\r\nContent-Type: application/json\r\nContent-Length: {System.Text.Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(head));
            var buffer = new byte[4096];
            var received = System.Text.Encoding.UTF8.GetString(buffer, 0, await stream.ReadAsync(buffer));
            while (!received.Contains("data: ", StringComparison.Ordinal))
            {
                received += System.Text.Encoding.UTF8.GetString(buffer, 0, await stream.ReadAsync(buffer));
            }

            Assert.Equal(1, backend.Engine.RunningCount);
            socket.Client.Close();
        }

        var deadline = DateTime.UtcNow.AddSeconds(30); // generous: a loaded CI machine is slow to notice
        while (backend.Engine.RunningCount > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(0, backend.Engine.RunningCount);
        Assert.Equal(0, backend.Engine.KvCacheUsage);
        var steps = backend.Engine.StepCount;
        Assert.True(steps < 30000, $"the request ran {steps} steps: it was not aborted");
        await Task.Delay(100);
        Assert.Equal(steps, backend.Engine.StepCount);
    }
}
