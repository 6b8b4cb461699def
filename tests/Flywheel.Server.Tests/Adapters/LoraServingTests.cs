using System.Net;
using System.Text.Json;
using Flywheel.Server.Tests.Metrics;
using static Flywheel.Server.Tests.Adapters.LoraServer;

namespace Flywheel.Server.Tests.Adapters;

/// <summary>
/// Requests by adapter name over a real server: /v1/models lists adapters under their base, a request naming
/// an adapter reaches the engine with that adapter's slot (every generation of it, streams and repair turns
/// included), the base keeps slot 0, an unknown name is 404, and the adapter gauges follow loads and unloads.
/// </summary>
public sealed class LoraServingTests
{
    [Fact]
    public async Task ModelsListTheBaseAndEachAdapterWithItsParent()
    {
        await using var lora = await StartAsync();
        var path = lora.WriteAdapter(seed: 1);
        await lora.Server.Backend.Adapters.LoadAsync("sql", path);

        using var list = await lora.Client.GetAsync("/v1/models");
        var cards = (await JsonAsync(list)).GetProperty("data").EnumerateArray().ToList();
        Assert.Equal([lora.BaseModel, "sql"], cards.Select(c => c.GetProperty("id").GetString()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, cards[0].GetProperty("parent").ValueKind);
        var card = cards[1];
        Assert.Equal("model", card.GetProperty("object").GetString());
        Assert.Equal("flywheel", card.GetProperty("owned_by").GetString());
        Assert.Equal(lora.BaseModel, card.GetProperty("parent").GetString());
        Assert.Equal(path, card.GetProperty("root").GetString());

        using var one = await lora.Client.GetAsync("/v1/models/sql");
        Assert.Equal(lora.BaseModel, (await JsonAsync(one)).GetProperty("parent").GetString());
    }

    [Fact]
    public async Task ARequestByAdapterNameRunsOnItsSlotAndTheBaseOnSlotZero()
    {
        await using var lora = await StartAsync();
        await lora.Server.Backend.Adapters.LoadAsync("first", lora.WriteAdapter(seed: 1));
        var second = await lora.Server.Backend.Adapters.LoadAsync("second", lora.WriteAdapter(seed: 2));

        using (var chat = await lora.ChatAsync("second"))
        {
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            Assert.Equal("second", (await JsonAsync(chat)).GetProperty("model").GetString());
        }

        using (var stream = await lora.PostAsync("/v1/completions", """{"model":"second","prompt":"hi","max_tokens":3,"stream":true}"""))
        {
            Assert.Equal("text_completion", (await Sse.ReadAllAsync(stream))[0].GetProperty("object").GetString());
        }

        using (var baseChat = await lora.ChatAsync(lora.BaseModel))
        {
            Assert.Equal(HttpStatusCode.OK, baseChat.StatusCode);
        }

        Assert.Equal([second.Slot, second.Slot, 0], lora.SubmittedSlots);
        Assert.NotEqual(0, second.Slot);
    }

    [Fact]
    public async Task EachAdapterChangesWhatTheModelComputesAndMixedBatchesEqualEachRequestAlone()
    {
        await using var lora = await StartAsync();
        await lora.Server.Backend.Adapters.LoadAsync("first", lora.WriteAdapter(seed: 11));
        await lora.Server.Backend.Adapters.LoadAsync("second", lora.WriteAdapter(seed: 12));
        string[] models = [lora.BaseModel, "first", "second"];

        // Greedy, with each token's logprob: the logprobs show the weights used even where the argmax agrees.
        async Task<(string Token, double Logprob)[]> Answer(string model)
        {
            using var chat = await lora.PostAsync("/v1/chat/completions", $$"""
                {"model":{{JsonSerializer.Serialize(model)}},"messages":[{"role":"user","content":"hello adapter"}],
                 "max_tokens":12,"temperature":0,"ignore_eos":true,"logprobs":true}
                """);
            Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
            var choice = (await JsonAsync(chat)).GetProperty("choices")[0];
            return [.. choice.GetProperty("logprobs").GetProperty("content").EnumerateArray()
                .Select(t => (t.GetProperty("token").GetString()!, t.GetProperty("logprob").GetDouble()))];
        }

        var alone = new List<(string Token, double Logprob)[]>();
        foreach (var model in models)
        {
            alone.Add(await Answer(model));
        }

        // The base and each adapter differ in what they compute (the first token's logprob at least).
        Assert.Equal(models.Length, alone.Select(a => a[0].Logprob).Distinct().Count());

        // All three at once (twice each), so the engine's Runs hold rows of both adapters and the base: the
        // same tokens as alone, and logprobs equal up to the float rounding of a different batch shape.
        var together = await Task.WhenAll(models.Concat(models).Select(Answer));
        for (var i = 0; i < together.Length; i++)
        {
            var expected = alone[i % models.Length];
            Assert.Equal(expected.Select(t => t.Token), together[i].Select(t => t.Token));
            for (var j = 0; j < expected.Length; j++)
            {
                Assert.True(Math.Abs(expected[j].Logprob - together[i][j].Logprob) <= 1e-4 * Math.Max(1, Math.Abs(expected[j].Logprob)),
                    $"{models[i % models.Length]} token {j}: {together[i][j].Logprob} alone {expected[j].Logprob}");
            }
        }
    }

    [Fact]
    public async Task RepairTurnsOfAStructuredRequestStayOnItsAdapter()
    {
        await using var lora = await StartAsync();
        var adapter = await lora.Server.Backend.Adapters.LoadAsync("json", lora.WriteAdapter(seed: 3));
        // Unconstrained, the random model's text is no JSON at all: every attempt fails validation and is repaired.
        const string format = ""","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}}},"constrained_decoding":false,"max_repairs":1""";

        using var response = await lora.ChatAsync("json", format);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal([adapter.Slot, adapter.Slot], lora.SubmittedSlots);
    }

    [Fact]
    public async Task AnUnknownModelIs404ModelNotFound()
    {
        await using var lora = await StartAsync();

        using var response = await lora.ChatAsync("no-such-adapter");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        var error = await ErrorAsync(response);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
        Assert.Empty(lora.SubmittedSlots);
    }

    [Fact]
    public async Task AdapterGaugesFollowLoadsAndUnloadsAndPassPromtool()
    {
        await using var lora = await StartAsync(maxLoras: 3);
        await lora.Server.Backend.Adapters.LoadAsync("sql", lora.WriteAdapter(seed: 1));
        var model = ("model", lora.BaseModel);

        var loaded = await Exposition.ScrapeAsync(lora.Client);
        Assert.Equal(1, loaded.Value("flywheel_lora_adapters_resident", model));
        Assert.Equal(3, loaded.Value("flywheel_lora_adapters_max", model));
        Assert.Equal(0, loaded.Value("flywheel_lora_requests_running", model, ("lora_name", "sql")));
        Assert.Equal(0, loaded.Value("flywheel_lora_requests_waiting", model, ("lora_name", "sql")));
        Assert.Equal(0, await LiveMetricsTests.PromtoolAsync(loaded.Text));

        using (var unload = await lora.UnloadAsync("sql"))
        {
            Assert.Equal(HttpStatusCode.OK, unload.StatusCode);
        }

        var unloaded = await Exposition.ScrapeAsync(lora.Client);
        Assert.Equal(0, unloaded.Value("flywheel_lora_adapters_resident", model));
        Assert.Empty(unloaded.Values("flywheel_lora_requests_running"));
        Assert.Empty(unloaded.Values("flywheel_lora_requests_waiting"));
    }
}
