using System.Net;
using System.Text.Json;
using Flywheel.Engine.Tests;
using Flywheel.Models.Building;
using Flywheel.Scheduling;

namespace Flywheel.Server.Tests.OpenAiClient;

/// <summary>
/// The official OpenAI node client against a real server (tiny model) started with an API key
/// (openai-api-key.mjs): its apiKey is what the server checks; a wrong key is its AuthenticationError with
/// <c>invalid_api_key</c>; no key is a 401; health probes stay open; /metrics is open unless protected.
/// </summary>
public sealed class ApiKeyClientTests
{
    private const string Key = "sk-flywheel-test-0123456789";

    [Fact]
    public async Task TheNodeClientPassesItsKeyAndMeetsRefusals()
    {
        await using var server = await EngineServer.StartAsync("server-api-key", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 64 },
            configure: o =>
            {
                o.ApiKeys = [Key];
                o.MetricsRequireKey = true;
            });
        using var result = RunClient(server, Key);
        var root = result.RootElement;

        Assert.Equal("chat.completion", root.GetProperty("right_key").GetProperty("object").GetString());
        Assert.Equal([server.Model.Name], root.GetProperty("right_key_models").EnumerateArray().Select(m => m.GetString()));
        Assert.True(root.GetProperty("right_key_stream_chunks").GetInt32() >= 2);
        foreach (var name in (string[])["wrong_key", "wrong_key_models"])
        {
            var refusal = root.GetProperty(name);
            Assert.True(refusal.GetProperty("raised").GetBoolean(), $"{name}: the client was served with a wrong key");
            Assert.Equal("AuthenticationError", refusal.GetProperty("class").GetString());
            Assert.Equal(401, refusal.GetProperty("status").GetInt32());
            Assert.Equal("invalid_api_key", refusal.GetProperty("code").GetString());
            Assert.Equal("invalid_request_error", refusal.GetProperty("type").GetString());
        }

        var none = root.GetProperty("no_key");
        Assert.Equal(401, none.GetProperty("status").GetInt32());
        Assert.Equal("invalid_api_key", none.GetProperty("body").GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(200, root.GetProperty("health_live").GetProperty("status").GetInt32());
        Assert.Equal(200, root.GetProperty("health_ready").GetProperty("status").GetInt32());
        Assert.Equal(401, root.GetProperty("metrics_no_key").GetProperty("status").GetInt32());
        var metrics = root.GetProperty("metrics_with_key");
        Assert.Equal(200, metrics.GetProperty("status").GetInt32());
        Assert.Contains("flywheel_", metrics.GetProperty("body").GetString());
    }

    [Fact]
    public async Task MetricsAreOpenByDefaultWhenAKeyGuardsV1()
    {
        await using var server = await EngineServer.StartAsync("server-api-key", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 64 }, configure: o => o.ApiKeys = [Key]);

        using var metrics = await server.Client.GetAsync("/metrics");
        using var models = await server.Client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
    }

    private static JsonDocument RunClient(EngineServer server, string key)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "OpenAiClient", "openai-api-key.mjs");
        var url = server.BaseUri.ToString().TrimEnd('/');
        var (exitCode, stdout, stderr) = TestAssets.Run("node", [script, TestAssets.NodeModules, url, server.Model.Name, key], TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"node {script} failed ({exitCode}): {stderr}");
        return JsonDocument.Parse(stdout);
    }
}
