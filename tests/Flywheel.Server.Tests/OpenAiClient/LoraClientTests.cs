using System.Text.Json;
using Flywheel.Engine.Tests;
using Flywheel.Server.Tests.Adapters;

namespace Flywheel.Server.Tests.OpenAiClient;

/// <summary>
/// The official OpenAI node client (openai-lora.mjs) against a real server serving an adapter: it lists the
/// adapter under its base and runs chat completions, whole and streamed, with model = the adapter's name,
/// which reach the engine on the adapter's slot; an unknown name is its NotFoundError.
/// </summary>
public sealed class LoraClientTests
{
    [Fact]
    public async Task TheNodeClientChatsWithAnAdapterByName()
    {
        await using var lora = await LoraServer.StartAsync();
        var adapter = await lora.Server.Backend.Adapters.LoadAsync("support-bot", lora.WriteAdapter(seed: 11));

        var script = Path.Combine(AppContext.BaseDirectory, "OpenAiClient", "openai-lora.mjs");
        var (exitCode, stdout, stderr) = TestAssets.Run("node", [script, TestAssets.NodeModules, lora.Server.BaseUri.ToString().TrimEnd('/'), "support-bot"], TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"node {script} failed ({exitCode}): {stderr}");
        var root = JsonDocument.Parse(stdout).RootElement;

        var models = root.GetProperty("models").EnumerateArray().ToList();
        Assert.Equal([lora.BaseModel, "support-bot"], models.Select(m => m.GetProperty("id").GetString()));
        Assert.Equal(lora.BaseModel, models[1].GetProperty("parent").GetString());
        Assert.Equal("support-bot", root.GetProperty("chat").GetProperty("model").GetString());
        Assert.True(root.GetProperty("chat").GetProperty("completion_tokens").GetInt32() > 0);
        Assert.All(root.GetProperty("stream_models").EnumerateArray(), m => Assert.Equal("support-bot", m.GetString()));
        Assert.True(root.GetProperty("stream_models").GetArrayLength() >= 2);
        var unknown = root.GetProperty("unknown");
        Assert.Equal("NotFoundError", unknown.GetProperty("class").GetString());
        Assert.Equal("model_not_found", unknown.GetProperty("code").GetString());
        Assert.Equal([adapter.Slot, adapter.Slot], lora.SubmittedSlots);
    }
}
