using System.Net;
using Flywheel.Server.Tests.Testing;
using static Flywheel.Server.Tests.ServerHarness;

namespace Flywheel.Server.Tests.OpenAi;

public sealed class ModelsEndpointTests
{
    [Fact]
    public async Task ListsTheServedModel()
    {
        await using var server = await StartAsync(backend: new ScriptedBackend("org/model-1", contextLength: 512));
        using var response = await server.Client.GetAsync("/v1/models");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal("list", body.GetProperty("object").GetString());
        var card = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("org/model-1", card.GetProperty("id").GetString());
        Assert.Equal("model", card.GetProperty("object").GetString());
        Assert.Equal("flywheel", card.GetProperty("owned_by").GetString());
        Assert.Equal(512, card.GetProperty("max_model_len").GetInt32());
        Assert.True(card.GetProperty("created").GetInt64() > 1_700_000_000);
    }

    [Fact]
    public async Task GetsOneModelByIdIncludingSlashes()
    {
        await using var server = await StartAsync(backend: new ScriptedBackend("org/model-1"));
        using var found = await server.Client.GetAsync("/v1/models/org/model-1");
        using var missing = await server.Client.GetAsync("/v1/models/other");

        Assert.Equal("org/model-1", (await JsonAsync(found)).GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var error = (await JsonAsync(missing)).GetProperty("error");
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }
}
