using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Flywheel.Adapters;
using Flywheel.Execution;
using Flywheel.Models.Building;
using Flywheel.Scheduling;

namespace Flywheel.Server.Tests.Adapters;

/// <summary>
/// A real server over the tiny model with adapter slots, PEFT adapter folders written for its base
/// (PeftAdapterWriter's seeded random weights), and a record of the adapter slot of every request the
/// backend hands to the engine.
/// </summary>
internal sealed class LoraServer : IAsyncDisposable
{
    private LoraServer(EngineServer server) => Server = server;

    public EngineServer Server { get; }

    public HttpClient Client => Server.Client;

    public string BaseModel => Server.Model.Name;

    /// <summary>Adapter slot of every request submitted to the engine, in order.</summary>
    public ConcurrentQueue<int> SubmittedSlots { get; } = new();

    public static async Task<LoraServer> StartAsync(int maxLoras = 2, Action<ServerOptions>? configure = null)
    {
        var server = await EngineServer.StartAsync("server-lora", ModelBuilderOptions.Tiny with { VocabSize = 600, LoraTargets = LoraTargets.All },
            new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64, MaxLoraCount = maxLoras, MaxLoraRank = 8 },
            configure: o =>
            {
                o.AllowRuntimeLora = true;
                configure?.Invoke(o);
            });
        var lora = new LoraServer(server);
        server.Backend.Submitting = request => lora.SubmittedSlots.Enqueue(request.AdapterSlot);
        return lora;
    }

    /// <summary>Writes a random rank-4 adapter on q_proj and v_proj for this base into a new folder.</summary>
    public string WriteAdapter(int seed, int rank = 4, Action<string>? corrupt = null)
    {
        var dir = TestScratch.Path($"lora-adapter-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var shape = AdapterBaseShape.FromModelFolder(Server.Model.Directory);
        var config = new PeftAdapterConfig { Rank = rank, Alpha = 2 * rank, Targets = [LoraTarget.QProj, LoraTarget.VProj] };
        PeftAdapterWriter.Write(dir, config, PeftAdapterWriter.RandomWeights(shape, config, seed));
        corrupt?.Invoke(dir);
        return dir;
    }

    public Task<HttpResponseMessage> PostAsync(string path, string json) => Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> LoadAsync(string name, string path) =>
        PostAsync("/v1/load_lora_adapter", JsonSerializer.Serialize(new { lora_name = name, lora_path = path }));

    public Task<HttpResponseMessage> UnloadAsync(string name) =>
        PostAsync("/v1/unload_lora_adapter", JsonSerializer.Serialize(new { lora_name = name }));

    public Task<HttpResponseMessage> ChatAsync(string model, string extra = "") =>
        PostAsync("/v1/chat/completions", $$"""{"model":{{JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":"hello adapter"}],"max_tokens":4{{extra}}}""");

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    /// <summary>The error object of an OpenAI-shaped error response.</summary>
    public static async Task<JsonElement> ErrorAsync(HttpResponseMessage response) => (await JsonAsync(response)).GetProperty("error");

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
