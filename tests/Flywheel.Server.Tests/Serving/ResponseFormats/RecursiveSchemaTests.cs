using System.Net;
using System.Text;
using System.Text.Json;
using Flywheel.Models.Building;

namespace Flywheel.Server.Tests.Serving.ResponseFormats;

/// <summary>
/// Schemas that recurse, sent to the real server (Kestrel on loopback, the engine, the tiny model):
/// recursive definitions joined by allOf once overflowed the stack and killed the process with
/// every request in it. Now they are a 400 naming why, and the server keeps serving, recursive
/// trees included.
/// </summary>
public sealed class RecursiveSchemaTests : IAsyncLifetime
{
    // Shaped like JSON Schema Store's JSON-LD schema: definitions that recurse through
    // additionalProperties and items, joined by allOf at the root.
    private const string JsonLdShaped = """
        {"$schema":"http://json-schema.org/draft-04/schema#","type":["object","array"],"additionalProperties":true,
         "allOf":[{"$ref":"#/definitions/context"},{"$ref":"#/definitions/graph"},{"$ref":"#/definitions/node"}],
         "definitions":{
           "context":{"additionalProperties":true,"properties":{"@context":{"type":["object","string","array","null"]}}},
           "graph":{"additionalProperties":{"anyOf":[{"$ref":"#/definitions/graph"}]},
                    "properties":{"@graph":{"type":["array","object"],"items":{"anyOf":[{"$ref":"#/definitions/node"}]}}}},
           "node":{"additionalProperties":{"anyOf":[{"$ref":"#/definitions/node"}]},
                   "properties":{"@id":{"type":"string","format":"uri"},"@value":{"type":["string","boolean","number","null"]},
                                 "@reverse":{"type":["string","object","null"],"additionalProperties":{"anyOf":[{"$ref":"#/definitions/node"}]}}}}}}
        """;

    private const string Tree = """
        {"$defs":{"node":{"type":"object","properties":{"n":{"type":"integer","minimum":0,"maximum":9},
           "kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["n"],"additionalProperties":false}},
         "$ref":"#/$defs/node"}
        """;

    private EngineServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await EngineServer.StartAsync("server-recursive-schema", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 1024 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 4, MaxBatchTokens = 64, ChunkSize = 32 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<(HttpStatusCode Status, JsonElement Body)> ChatAsync(string schema)
    {
        var body = $$"""
            {"model":"{{_server.Model.Name}}","messages":[{"role":"user","content":"JSON please"}],"max_tokens":200,
             "response_format":{"type":"json_schema","json_schema":{"name":"s","schema":
            """ + schema + "}}}";
        using var response = await _server.Client.PostAsync("/v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task RecursiveDefinitionsJoinedByAllOfAreA400AndTheServerKeepsServing()
    {
        var (status, body) = await ChatAsync(JsonLdShaped);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("response_format.json_schema.schema", error.GetProperty("param").GetString());
        Assert.Equal("unsupported_schema", error.GetProperty("code").GetString());
        Assert.Contains("recurses without end", error.GetProperty("message").GetString());

        // The same schema again (from the cache), then a recursive tree the grammar can represent.
        (status, _) = await ChatAsync(JsonLdShaped);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        (status, body) = await ChatAsync(Tree);
        Assert.Equal(HttpStatusCode.OK, status);
        using var tree = JsonDocument.Parse(body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!);
        Assert.InRange(tree.RootElement.GetProperty("n").GetInt32(), 0, 9);
    }

    [Fact]
    public async Task AReferenceChainDeeperThanTheLimitIsA400NamingIt()
    {
        const int links = 20_000;
        var defs = string.Join(",", Enumerable.Range(0, links).Select(i =>
            $"\"d{i}\":{{\"type\":\"object\",\"properties\":{{\"x\":{{\"$ref\":\"#/$defs/d{i + 1}\"}}}}}}"));
        var (status, body) = await ChatAsync("{\"$defs\":{" + defs + $",\"d{links}\":{{\"type\":\"object\"}}}},\"$ref\":\"#/$defs/d0\"}}");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("limit of 512", body.GetProperty("error").GetProperty("message").GetString());

        using var health = await _server.Client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
