using System.Net;
using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>
/// response_format over the real path (Kestrel on loopback, the batching engine, the tiny model with
/// random weights): constrained output parses and conforms, unconstrained output is validated and
/// repaired, streams carry the validation report, and the metrics count what happened.
/// </summary>
public sealed class StructuredOutputTests : IAsyncLifetime
{
    private const string Schema = """
        {"type":"object","properties":{
           "city":{"type":"string","minLength":1,"maxLength":8},
           "population":{"type":"integer","minimum":0,"maximum":99999},
           "capital":{"type":"boolean"},
           "zones":{"type":"array","items":{"enum":["north","south"]},"maxItems":2}},
         "required":["city","population","capital"],"additionalProperties":false}
        """;

    private EngineServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await EngineServer.StartAsync("server-structured", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 1024 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 8, MaxBatchTokens = 64, ChunkSize = 32 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Model => _server.Model.Name;

    private static string JsonSchemaFormat(string schema) => $$$"""{"type":"json_schema","json_schema":{"name":"city","schema":{{{schema}}},"strict":true}}""";

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, string json)
    {
        using var response = await _server.Client.PostAsync(path, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task TheVocabularyIsBuiltAtStartNotByTheFirstStructuredRequest()
    {
        // A fresh backend, so no other test's structured request can have built it.
        await using var server = await EngineServer.StartAsync("server-structured-warm", ModelBuilderOptions.Tiny with { VocabSize = 600 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 32, ChunkSize = 32 });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!server.Backend.VocabularyBuilt && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }

        Assert.True(server.Backend.VocabularyBuilt, "no structured request was made, and the vocabulary was not built in the background");
    }

    [Fact]
    public async Task ConstrainedAnswersCloseWithinMaxTokensAndTooFewTokensAreRefusedWithTheMinimum()
    {
        string Body(int maxTokens, int seed) =>
            $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"A city, as JSON"}],"temperature":1.0,"seed":{{seed}},"max_tokens":{{maxTokens}},"response_format":{{JsonSchemaFormat(Schema)}}}""";

        var (refusedStatus, refused) = await PostAsync("/v1/chat/completions", Body(4, 0));
        Assert.Equal(HttpStatusCode.BadRequest, refusedStatus);
        var error = refused.GetProperty("error");
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
        var message = error.GetProperty("message").GetString()!;
        var minimum = int.Parse(System.Text.RegularExpressions.Regex.Match(message, "at least ([0-9]+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(minimum, 5, 300);
        Assert.Equal(HttpStatusCode.BadRequest, (await PostAsync("/v1/chat/completions", Body(minimum - 1, 0))).Status);

        // A random-weight model left alone fills strings until max_tokens cuts the JSON; with the budget every
        // answer closes in time, valid on the first attempt.
        var validator = JsonSchemaValidator.Create(Schema);
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(seed => PostAsync("/v1/chat/completions", Body(minimum + seed % 3, seed))));
        foreach (var (status, body) in answers)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            var text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
            Assert.Empty(validator.Validate(text));
            Assert.Equal(0, body.GetProperty("structured_output").GetProperty("repairs").GetInt32());
            Assert.True(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32() <= minimum + 2);
        }
    }

    [Fact]
    public async Task ConstrainedChatOutputParsesAndConformsEveryTime()
    {
        var validator = JsonSchemaValidator.Create(Schema);
        var bodies = await Task.WhenAll(Enumerable.Range(0, 8).Select(seed => PostAsync("/v1/chat/completions",
            $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"A city, as JSON"}],"temperature":1.0,"seed":{{seed}},"max_tokens":300,"response_format":{{JsonSchemaFormat(Schema)}}}""")));
        var texts = new List<string>();
        foreach (var (status, body) in bodies)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            var choice = body.GetProperty("choices")[0];
            Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
            var text = choice.GetProperty("message").GetProperty("content").GetString()!;
            Assert.Empty(validator.Validate(text));
            using var doc = JsonDocument.Parse(text);
            Assert.True(doc.RootElement.GetProperty("population").GetInt32() is >= 0 and <= 99999);
            var report = body.GetProperty("structured_output");
            Assert.True(report.GetProperty("valid").GetBoolean());
            Assert.True(report.GetProperty("constrained").GetBoolean());
            Assert.Equal(0, report.GetProperty("repairs").GetInt32());
            texts.Add(text);
        }

        Assert.True(texts.Distinct().Count() > 1, "different seeds should give different objects");
    }

    [Fact]
    public async Task JsonObjectModeGivesAnObjectOnCompletionsToo()
    {
        var (status, body) = await PostAsync("/v1/completions",
            $$$"""{"model":"{{{Model}}}","prompt":"Here is an object:","temperature":0.8,"seed":3,"max_tokens":600,"response_format":{"type":"json_object"}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body.GetProperty("choices")[0];
        var text = choice.GetProperty("text").GetString()!;
        if (choice.GetProperty("finish_reason").GetString() == "stop")
        {
            using var doc = JsonDocument.Parse(text);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            Assert.True(body.GetProperty("structured_output").GetProperty("valid").GetBoolean());
        }
        else
        {
            // Cut off by max_tokens: still a prefix of an object, reported invalid (and repaired, up to the default).
            Assert.StartsWith("{", text, StringComparison.Ordinal);
            Assert.False(body.GetProperty("structured_output").GetProperty("valid").GetBoolean());
        }
    }

    [Fact]
    public async Task UnconstrainedOutputIsValidatedAndRepairedUpToTheLimit()
    {
        var before = await ScrapeAsync();
        var (status, body) = await PostAsync("/v1/chat/completions",
            $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"A city"}],"temperature":0,"max_tokens":12,"ignore_eos":true,"constrained_decoding":false,"max_repairs":2,"response_format":{{JsonSchemaFormat(Schema)}}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        // Random weights never write a valid object by chance: three attempts, all invalid.
        var report = body.GetProperty("structured_output");
        Assert.False(report.GetProperty("valid").GetBoolean());
        Assert.False(report.GetProperty("constrained").GetBoolean());
        Assert.Equal(2, report.GetProperty("repairs").GetInt32());
        Assert.Contains("not valid JSON", report.GetProperty("errors")[0].GetString());
        // Usage counts all three attempts: 12 tokens each, and the repair prompts grow.
        var usage = body.GetProperty("usage");
        Assert.Equal(36, usage.GetProperty("completion_tokens").GetInt32());
        var firstPrompt = (await PostAsync("/v1/chat/completions",
            $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"A city"}],"max_tokens":1}""")).Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Assert.True(usage.GetProperty("prompt_tokens").GetInt32() > 3 * firstPrompt);
        var after = await ScrapeAsync();
        Assert.Equal(2, Counter(after, "flywheel_structured_repairs_total") - Counter(before, "flywheel_structured_repairs_total"));
        Assert.Equal(3, Counter(after, "flywheel_structured_validation_failures_total") - Counter(before, "flywheel_structured_validation_failures_total"));
    }

    [Fact]
    public async Task AStreamCarriesTheReportOnItsFinishChunk()
    {
        var json = $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"A city"}],"temperature":0.7,"seed":11,"max_tokens":300,"stream":true,"response_format":{{JsonSchemaFormat(Schema)}}}""";
        using var response = await _server.Client.PostAsync("/v1/chat/completions", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var chunks = Sse.Parse(await response.Content.ReadAsStringAsync());
        var text = string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta")).Where(d => d.TryGetProperty("content", out _)).Select(d => d.GetProperty("content").GetString()));
        Assert.Empty(JsonSchemaValidator.Create(Schema).Validate(text));
        var last = chunks[^1];
        Assert.Equal("stop", last.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.True(last.GetProperty("structured_output").GetProperty("valid").GetBoolean());
        Assert.All(chunks.SkipLast(1), c => Assert.False(c.TryGetProperty("structured_output", out _)));
    }

    [Fact]
    public async Task ExtensionFieldsAreCheckedAndMaskTimeIsMeasured()
    {
        var (status, body) = await PostAsync("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"x"}],"max_repairs":1}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("max_repairs", body.GetProperty("error").GetProperty("param").GetString());
        (status, body) = await PostAsync("/v1/chat/completions", $$$"""{"model":"{{{Model}}}","messages":[{"role":"user","content":"x"}],"max_repairs":9,"response_format":{"type":"json_object"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("max_repairs", body.GetProperty("error").GetProperty("param").GetString());

        var before = await ScrapeAsync();
        (status, _) = await PostAsync("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"x"}],"max_tokens":300,"response_format":{{JsonSchemaFormat(Schema)}}}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var after = await ScrapeAsync();
        Assert.True(Counter(after, "flywheel_grammar_mask_seconds_count") > Counter(before, "flywheel_grammar_mask_seconds_count"));
    }

    private async Task<string> ScrapeAsync() => await _server.Client.GetStringAsync("/metrics");

    /// <summary>The value of a sample line whose name (before labels) is <paramref name="name"/>, 0 when absent.</summary>
    internal static double Counter(string exposition, string name) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture))
            .Sum();
}
