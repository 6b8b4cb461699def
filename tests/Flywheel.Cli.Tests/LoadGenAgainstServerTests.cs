using System.Text.Json;
using Flywheel.Cli;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server;
using Flywheel.Server.Hosting;
using Flywheel.Serving.Backend;
using Flywheel.Tokenization;
using Microsoft.Extensions.Logging;

namespace Flywheel.Cli.Tests;

/// <summary><c>flywheel loadgen</c> against a real Flywheel server (engine, ONNX Runtime, tiny model) on 127.0.0.1.</summary>
public sealed class LoadGenAgainstServerTests
{
    [Theory]
    [InlineData("prompt-heavy")]
    [InlineData("balanced")]
    [InlineData("generation-heavy")]
    [InlineData("structured")]
    public async Task EachMixRunsCleanlyAndCountsTokensExactly(string mix)
    {
        var dir = TestScratch.Path($"loadgen-model-{Environment.ProcessId}");
        lock (typeof(LoadGenAgainstServerTests))
        {
            if (!File.Exists(Path.Combine(dir, "model.onnx")))
            {
                ModelFolderWriter.Write(dir, ModelBuilderOptions.Tiny with { VocabSize = 1000, ContextLength = 512 }, null, SyntheticTokenizer.Write);
            }
        }

        using var model = ModelFolder.Open(dir);
        using var backend = new EngineBackend(model, Tokenizer.Load(model.TokenizerPath), new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64, ChunkSize = 32 });
        await using var app = FlywheelServer.Build(new ServerOptions { Port = 0, Output = TextWriter.Null, ConfigureLogging = l => l.ClearProviders() }, backend);
        await app.StartAsync();
        var url = FlywheelServer.ListeningUris(app).Single().ToString();
        var output = TestScratch.Path($"loadgen-{mix}-{Guid.NewGuid():N}");
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = await Task.Run(() => CliApp.Run(
            ["loadgen", "--url", url, "--mix", mix, "--requests", "6", "--concurrency", "3", "--max-context", "512",
             "--tokenizer", model.TokenizerPath, "--out", output, "--no-progress", "--seed", "3"], stdout, stderr));
        Assert.True(code == 0, stderr.ToString() + stdout);
        foreach (var file in new[] { "summary.json", "requests.csv", "report.md" })
        {
            Assert.True(File.Exists(Path.Combine(output, file)), $"{file} missing");
        }

        using var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "summary.json")));
        var run = FindRun(summary.RootElement);
        Assert.Equal(6, run.GetProperty("successes").GetInt32());
        Assert.Equal(0, run.GetProperty("failures").GetInt32());
        Assert.True(run.GetProperty("outputTokens").GetInt64() > 0);
        Assert.Equal(0, backend.Engine.RunningCount);
    }

    private static JsonElement FindRun(JsonElement element)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            if (element.TryGetProperty("successes", out _))
            {
                return element;
            }

            foreach (var p in element.EnumerateObject())
            {
                if (p.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array && FindRun(p.Value) is { ValueKind: JsonValueKind.Object } found)
                {
                    return found;
                }
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                if (FindRun(item) is { ValueKind: JsonValueKind.Object } found)
                {
                    return found;
                }
            }
        }

        return default;
    }
}
