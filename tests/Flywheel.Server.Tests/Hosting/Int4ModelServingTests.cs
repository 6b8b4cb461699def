using System.Net;
using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Scheduling;

namespace Flywheel.Server.Tests.Hosting;

/// <summary>
/// An int4 folder (MatMulNBits projections, fp32 KV cache and logits, as ORT GenAI's CPU exports) and an fp16
/// folder (float16 weights, KV cache and logits, as its CUDA exports) served through HTTP by the batching engine:
/// concurrent greedy requests complete, and each gets the same text batched as alone.
/// </summary>
public sealed class Int4ModelServingTests
{
    [Theory]
    [InlineData(ModelPrecision.Int4)]
    [InlineData(ModelPrecision.Fp16)]
    public async Task ConcurrentGreedyRequestsOnAQuantizedFolderMatchTheirOutputsAlone(ModelPrecision precision)
    {
        await using var server = await EngineServer.StartAsync($"server-{precision}", ModelBuilderOptions.Tiny with { VocabSize = 600, Precision = precision },
            new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64 });
        string[] prompts = ["a b c", "the quick brown fox", "x", "one two three four five six"];
        async Task<string> CompleteAsync(string prompt)
        {
            var body = $$"""{"model":"{{server.Model.Name}}","prompt":"{{prompt}}","max_tokens":16,"ignore_eos":true,"temperature":0}""";
            using var response = await server.Client.SendAsync(ServerHarness.Post("/v1/completions", body));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            using var doc = JsonDocument.Parse(text);
            Assert.Equal(16, doc.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            return doc.RootElement.GetProperty("choices")[0].GetProperty("text").GetString()!;
        }

        var alone = new List<string>();
        foreach (var prompt in prompts)
        {
            alone.Add(await CompleteAsync(prompt));
        }

        var together = await Task.WhenAll(prompts.Select(CompleteAsync));
        Assert.Equal(alone, together);
    }
}
