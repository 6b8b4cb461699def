using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Scheduling;
using Flywheel.Server.Tests.Metrics;
using static Flywheel.Server.Tests.Adapters.LoraServer;

namespace Flywheel.Server.Tests.Adapters;

/// <summary>
/// POST /v1/load_lora_adapter and /v1/unload_lora_adapter on a real server: loads and unloads by name, every
/// refusal a 4xx naming the field (a bad folder names its file and field), the API key guarding both, the
/// routes absent without --allow-runtime-lora, and an unload ending a running request cleanly.
/// </summary>
public sealed class AdapterApiTests
{
    [Fact]
    public async Task LoadsUnloadsAndRefusesWhatCannotBeServed()
    {
        await using var lora = await StartAsync(maxLoras: 2);

        using (var load = await lora.LoadAsync("a", lora.WriteAdapter(seed: 1)))
        {
            Assert.Equal(HttpStatusCode.OK, load.StatusCode);
            Assert.Equal(lora.BaseModel, (await JsonAsync(load)).GetProperty("parent").GetString());
        }

        await AssertRefusedAsync(await lora.LoadAsync("a", lora.WriteAdapter(seed: 2)), HttpStatusCode.BadRequest, "adapter_already_loaded", "lora_name");
        await AssertRefusedAsync(await lora.LoadAsync(lora.BaseModel, lora.WriteAdapter(seed: 2)), HttpStatusCode.BadRequest, "adapter_already_loaded", "lora_name");

        // A DoRA adapter: refused with the config file and the field named; the server goes on serving.
        var dora = lora.WriteAdapter(seed: 3, corrupt: dir => File.WriteAllText(Path.Combine(dir, "adapter_config.json"),
            File.ReadAllText(Path.Combine(dir, "adapter_config.json")).Replace("\"use_dora\": false", "\"use_dora\": true", StringComparison.Ordinal)));
        var message = await AssertRefusedAsync(await lora.LoadAsync("dora", dora), HttpStatusCode.BadRequest, "invalid_adapter", "lora_path");
        Assert.Contains(Path.Combine(dora, "adapter_config.json"), message);
        Assert.Contains("use_dora", message);
        var tooHigh = await AssertRefusedAsync(await lora.LoadAsync("r16", lora.WriteAdapter(seed: 4, rank: 16)), HttpStatusCode.BadRequest, "invalid_adapter", "lora_path");
        Assert.Contains("'r'", tooHigh);
        var missing = await AssertRefusedAsync(await lora.LoadAsync("nothing", "/no/such/folder"), HttpStatusCode.BadRequest, "invalid_adapter", "lora_path");
        Assert.Contains("/no/such/folder/adapter_config.json", missing);

        using (var second = await lora.LoadAsync("b", lora.WriteAdapter(seed: 5)))
        {
            Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        }

        await AssertRefusedAsync(await lora.LoadAsync("c", lora.WriteAdapter(seed: 6)), HttpStatusCode.Conflict, "adapter_slots_full", null);
        using (var stillServing = await lora.ChatAsync("b"))
        {
            Assert.Equal(HttpStatusCode.OK, stillServing.StatusCode);
        }

        using (var unload = await lora.UnloadAsync("a"))
        {
            Assert.Equal(HttpStatusCode.OK, unload.StatusCode);
            Assert.True((await JsonAsync(unload)).GetProperty("deleted").GetBoolean());
        }

        await AssertRefusedAsync(await lora.ChatAsync("a"), HttpStatusCode.NotFound, "model_not_found", "model");
        await AssertRefusedAsync(await lora.UnloadAsync("a"), HttpStatusCode.NotFound, "model_not_found", "lora_name");
        using (var reuse = await lora.LoadAsync("c", lora.WriteAdapter(seed: 6)))
        {
            Assert.Equal(HttpStatusCode.OK, reuse.StatusCode); // the unloaded adapter's slot is free again
        }
    }

    [Fact]
    public async Task AFolderWhoseFilesLinkToADeviceIs400NamingTheFileAndTheServerGoesOn()
    {
        await using var lora = await StartAsync(maxLoras: 2);

        // Weights linked to /dev/zero: mapping it failed inside the load, a 500 before.
        var zero = lora.WriteAdapter(seed: 1, corrupt: dir =>
        {
            File.Delete(Path.Combine(dir, "adapter_model.safetensors"));
            File.CreateSymbolicLink(Path.Combine(dir, "adapter_model.safetensors"), "/dev/zero");
        });
        var message = await AssertRefusedAsync(await lora.LoadAsync("zero", zero), HttpStatusCode.BadRequest, "invalid_adapter", "lora_path");
        Assert.Contains(Path.Combine(zero, "adapter_model.safetensors"), message);

        // The config linked to /dev/zero: read until memory ran out before; now refused unread.
        var endless = lora.WriteAdapter(seed: 2, corrupt: dir =>
        {
            File.Delete(Path.Combine(dir, "adapter_config.json"));
            File.CreateSymbolicLink(Path.Combine(dir, "adapter_config.json"), "/dev/zero");
        });
        message = await AssertRefusedAsync(await lora.LoadAsync("endless", endless), HttpStatusCode.BadRequest, "invalid_adapter", "lora_path");
        Assert.Contains(Path.Combine(endless, "adapter_config.json"), message);

        // The failed loads took no slot: both of the two still load, and the server serves them.
        using (var a = await lora.LoadAsync("a", lora.WriteAdapter(seed: 3)))
        using (var b = await lora.LoadAsync("b", lora.WriteAdapter(seed: 4)))
        {
            Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (a.StatusCode, b.StatusCode));
        }

        using var chat = await lora.ChatAsync("b");
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
    }

    [Theory]
    [InlineData("""{"lora_path":"/x"}""", "lora_name", "missing_required_parameter")]
    [InlineData("""{"lora_name":7,"lora_path":"/x"}""", "lora_name", "invalid_type")]
    [InlineData("""{"lora_name":"","lora_path":"/x"}""", "lora_name", "invalid_value")]
    [InlineData("""{"lora_name":"a\tb","lora_path":"/x"}""", "lora_name", "invalid_value")]
    [InlineData("""{"lora_name":"a"}""", "lora_path", "missing_required_parameter")]
    [InlineData("""{"lora_name":"a","lora_path":["/x"]}""", "lora_path", "invalid_type")]
    public async Task BodyMistakesAre400NamingTheField(string body, string field, string code)
    {
        await using var lora = await StartAsync();

        await AssertRefusedAsync(await lora.PostAsync("/v1/load_lora_adapter", body), HttpStatusCode.BadRequest, code, field);
        if (field == "lora_name")
        {
            await AssertRefusedAsync(await lora.PostAsync("/v1/unload_lora_adapter", body), HttpStatusCode.BadRequest, code, field);
        }
    }

    [Fact]
    public async Task TheRoutesNeedTheApiKey()
    {
        const string key = "sk-lora-test";
        await using var lora = await StartAsync(configure: o => o.ApiKeys = [key]);
        var path = lora.WriteAdapter(seed: 1);

        using (var anonymous = await lora.LoadAsync("a", path))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        lora.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var load = await lora.LoadAsync("a", path);
        Assert.Equal(HttpStatusCode.OK, load.StatusCode);
        lora.Client.DefaultRequestHeaders.Authorization = null;
        using var anonymousUnload = await lora.UnloadAsync("a");
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousUnload.StatusCode);
        Assert.Single(lora.Server.Backend.Adapters.Loaded);
    }

    [Fact]
    public async Task WithoutAllowRuntimeLoraTheRoutesDoNotExist()
    {
        // Its own folder name: folders are shared by name, and this model has no LoRA inputs.
        await using var server = await EngineServer.StartAsync("server-lora-plain", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64, MaxLoraCount = 2 });
        using var content = new StringContent("""{"lora_name":"a","lora_path":"/x"}""", System.Text.Encoding.UTF8, "application/json");

        using var load = await server.Client.PostAsync("/v1/load_lora_adapter", content);
        using var unload = await server.Client.PostAsync("/v1/unload_lora_adapter", content);

        Assert.Equal(HttpStatusCode.NotFound, load.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unload.StatusCode);
    }

    [Fact]
    public async Task ARuntimeLoadOnAModelWithoutLoraInputsSaysWhyNotMaxLoras()
    {
        await using var server = await EngineServer.StartAsync("server-lora-plain", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64, MaxLoraCount = 2 }, configure: o => o.AllowRuntimeLora = true);
        using var content = new StringContent("""{"lora_name":"a","lora_path":"/x"}""", System.Text.Encoding.UTF8, "application/json");

        using var load = await server.Client.PostAsync("/v1/load_lora_adapter", content);

        Assert.Equal(HttpStatusCode.BadRequest, load.StatusCode);
        var message = JsonDocument.Parse(await load.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("message").GetString()!;
        Assert.Contains("--lora", message, StringComparison.Ordinal);
        Assert.DoesNotContain("--max-loras 0", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnloadRefusesNewRequestsAtOnceAndWaitsForRunningOnes()
    {
        await using var lora = await StartAsync();
        var adapter = await lora.Server.Backend.Adapters.LoadAsync("busy", lora.WriteAdapter(seed: 1));
        using var hold = new ManualResetEventSlim();
        lora.Server.Backend.Engine.BeforeStep = _ => hold.Wait(TimeSpan.FromSeconds(60));
        try
        {
            var running = lora.ChatAsync("busy", ""","ignore_eos":true""");
            while (adapter.WaitingCount == 0)
            {
                await Task.Delay(10); // until the request is in the engine
            }

            var unload = lora.UnloadAsync("busy");
            while (!adapter.IsUnloading)
            {
                await Task.Delay(10);
            }

            await AssertRefusedAsync(await lora.ChatAsync("busy"), HttpStatusCode.NotFound, "model_not_found", "model");
            Assert.False(unload.IsCompleted);
            hold.Set();

            using var finished = await running;
            Assert.Equal(HttpStatusCode.OK, finished.StatusCode);
            Assert.Equal("length", (await JsonAsync(finished)).GetProperty("choices")[0].GetProperty("finish_reason").GetString());
            using var unloaded = await unload;
            Assert.Equal(HttpStatusCode.OK, unloaded.StatusCode);
        }
        finally
        {
            hold.Set();
            lora.Server.Backend.Engine.BeforeStep = null;
        }
    }

    [Fact]
    public async Task UnloadEndsARunningRequestCleanlyAndTheServerGoesOn()
    {
        await using var lora = await StartAsync();
        var adapters = lora.Server.Backend.Adapters;
        var adapter = await adapters.LoadAsync("busy", lora.WriteAdapter(seed: 1));
        adapters.UnloadWait = TimeSpan.FromMilliseconds(100);
        using var hold = new ManualResetEventSlim();
        lora.Server.Backend.Engine.BeforeStep = _ => hold.Wait(TimeSpan.FromSeconds(60));
        try
        {
            var running = lora.PostAsync("/v1/completions", """{"model":"busy","prompt":"hi","max_tokens":50,"ignore_eos":true,"stream":true}""");
            while (adapter.WaitingCount + adapter.RunningCount == 0)
            {
                await Task.Delay(10); // until the request is in the engine
            }

            var waiting = await Exposition.ScrapeAsync(lora.Client);
            Assert.Equal(1, waiting.Value("flywheel_lora_requests_waiting", ("lora_name", "busy")));

            // The wait runs out while the engine is held, so the unload aborts the request. The engine is let go
            // before the unload is awaited: an engine's unload may need its thread to free the slot.
            var unload = lora.UnloadAsync("busy");
            while (!adapter.UnloadToken.IsCancellationRequested)
            {
                await Task.Delay(10);
            }

            hold.Set();
            using (var unloaded = await unload)
            {
                Assert.Equal(HttpStatusCode.OK, unloaded.StatusCode);
            }

            using var response = await running;
            var events = await Sse.ReadAllAsync(response);
            Assert.Equal("adapter_unloaded", events[^1].GetProperty("error").GetProperty("code").GetString());
            Assert.Equal(0, adapter.InFlightCount);
        }
        finally
        {
            hold.Set();
            lora.Server.Backend.Engine.BeforeStep = null;
        }

        using var after = await lora.ChatAsync(lora.BaseModel);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(0, adapter.WaitingCount + adapter.RunningCount);
    }

    private static async Task<string> AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode status, string code, string? param)
    {
        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(status == response.StatusCode, $"{(int)response.StatusCode}: {body}");
            var error = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("error");
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.Equal(param, error.GetProperty("param").GetString());
            return error.GetProperty("message").GetString()!;
        }
    }
}
