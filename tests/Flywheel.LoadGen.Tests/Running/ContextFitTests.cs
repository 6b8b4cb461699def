using Flywheel.LoadGen.Tests.Support;

namespace Flywheel.LoadGen.Tests.Running;

/// <summary>A workload that cannot fit the model's max_model_len is refused up front, or clipped when asked.</summary>
public sealed class ContextFitTests
{
    private static readonly ScriptedServerOptions Fast = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(0));

    [Fact]
    public async Task A_mix_too_long_for_the_model_is_refused_before_any_request()
    {
        // balanced draws prompts up to 1,024 and outputs up to 512 tokens; the model holds 1,024.
        await using var server = await ScriptedServer.StartAsync(Fast with { MaxModelLength = 1024 });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--mix", "balanced", "--requests", "4");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("max_model_len is 1,024", run.Error);
        Assert.Contains("--max-context 1024", run.Error);
        Assert.Contains("--clip-to-context", run.Error);
        Assert.Empty(server.Bodies);
    }

    [Fact]
    public async Task Clip_to_context_warns_and_every_request_fits()
    {
        await using var server = await ScriptedServer.StartAsync(Fast with { MaxModelLength = 256 });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--mix", "balanced", "--requests", "12",
            "--concurrency", "4", "--clip-to-context", "--seed", "5");

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.Contains("warning:", run.Error);
        Assert.Contains("clipped to fit 256 tokens", run.Error);
        Assert.Equal(12, server.Bodies.Count);
        Assert.All(server.Bodies, body =>
        {
            var promptWords = body.GetProperty("messages")[0].GetProperty("content").GetString()!.Split(' ').Length;
            Assert.True(promptWords + body.GetProperty("max_tokens").GetInt32() <= 256 - 8, $"{promptWords} + {body.GetProperty("max_tokens")}");
        });
    }

    [Fact]
    public async Task A_mix_scaled_to_the_model_runs_unclipped()
    {
        await using var server = await ScriptedServer.StartAsync(Fast with { MaxModelLength = 512 });
        using var run = await LoadGenRun.RunAsync("--url", server.Url, "--mix", "generation-heavy", "--max-context", "512",
            "--requests", "3");

        Assert.True(run.ExitCode == 0, run.Error);
        Assert.DoesNotContain("warning:", run.Error);
    }
}
