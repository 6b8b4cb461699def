using System.Net;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using static Flywheel.Server.Tests.OpenAi.ErrorResponseTests;

namespace Flywheel.Server.Tests.Hosting;

/// <summary>A 429 from the real engine tells the client how long the queue ahead of it will take, not a constant.</summary>
public sealed class RetryAfterTests
{
    [Fact]
    public async Task RetryAfterGrowsWithTheQueueAtTheEnginesPace()
    {
        await using var server = await EngineServer.StartAsync("server-retry-after", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new EngineOptions { MaxRunningRequests = 1, QueueCapacity = 1, MaxBatchTokens = 64 });
        // 20 ms per step: a request of 200 tokens runs for at least 4 s, so none finishes during the test.
        server.Backend.Engine.BeforeStep = _ => Thread.Sleep(20);
        string Body(bool stream) => $$"""{"model":"{{server.Model.Name}}","prompt":"a b","max_tokens":200,"ignore_eos":true,"stream":{{(stream ? "true" : "false")}}}""";

        using var running = await server.Client.SendAsync(ServerHarness.Post("/v1/completions", Body(stream: true)), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await running.Content.ReadAsStreamAsync());
        for (var i = 0; i < 50; i++)
        {
            await Sse.ReadEventAsync(reader); // at least 50 steps, so at least 1 s of measured pace with no finish
        }

        // One request waits for the slot, one fills the queue; the next is refused. The engine moves a request
        // from the queue to its waiting list at the top of a step, so the second is sent only after that.
        var deadline = DateTime.UtcNow.AddSeconds(60); // a bound, so a regression fails instead of hanging
        var waiting = new List<Task<HttpResponseMessage>>();
        foreach (var expected in (int[])[1, 2])
        {
            waiting.Add(server.Client.SendAsync(ServerHarness.Post("/v1/completions", Body(false))));
            while (server.Backend.Engine.WaitingCount < expected)
            {
                Assert.True(DateTime.UtcNow < deadline, $"waiting {server.Backend.Engine.WaitingCount}, running {server.Backend.Engine.RunningCount}");
                await Task.Delay(10);
            }

            await Task.Delay(200); // ten steps
        }

        using var refused = await server.Client.SendAsync(ServerHarness.Post("/v1/completions", Body(false)));

        await ErrorAsync(refused, HttpStatusCode.TooManyRequests, "queue_full");
        var retryAfter = refused.Headers.RetryAfter?.Delta?.TotalSeconds;
        // Three requests ahead (the running one's successor and two waiting), nothing finished in over a second:
        // at least 3 x 1 s.
        Assert.True(retryAfter >= 3, $"Retry-After {retryAfter}");
        Assert.True(retryAfter <= 300, $"Retry-After {retryAfter}");
        running.Dispose();
        foreach (var request in waiting)
        {
            (await request).Dispose();
        }
    }
}
