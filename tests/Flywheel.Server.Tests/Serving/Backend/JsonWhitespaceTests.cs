using System.Globalization;
using System.Net;
using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Structured;
using Xunit.Abstractions;

namespace Flywheel.Server.Tests.Serving.Backend;

/// <summary>
/// The json_whitespace extension over the real path (the tiny model with random weights): compact answers
/// have no whitespace between tokens, an unknown mode is a 400 naming the field, and the tokens a small
/// schema's answers take under each mode are printed.
/// </summary>
public sealed class JsonWhitespaceTests(ITestOutputHelper output) : IAsyncLifetime
{
    /// <summary>A three-field coffee-shop order, with a free-text field so strings (where spaces stay allowed) appear too.</summary>
    private const string Order = """
        {"type":"object","properties":{
           "drink":{"enum":["latte","mocha","espresso","tea"]},
           "size":{"enum":["short","tall","grande","venti"]},
           "notes":{"type":"string","maxLength":12}},
         "required":["drink","size","notes"],"additionalProperties":false}
        """;

    private EngineServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await EngineServer.StartAsync("server-json-whitespace", ModelBuilderOptions.Tiny with { VocabSize = 600, ContextLength = 1024 },
            new Flywheel.Scheduling.EngineOptions { MaxRunningRequests = 8, MaxBatchTokens = 64, ChunkSize = 32 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private string Body(int seed, string? whitespace, int maxTokens = 200)
    {
        var field = whitespace is null ? "" : $",\"json_whitespace\":\"{whitespace}\"";
        return $$"""{"model":"{{_server.Model.Name}}","messages":[{"role":"user","content":"A coffee order, as JSON"}],"temperature":1.0,"seed":{{seed}},"max_tokens":{{maxTokens}},"""
            + "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"order\",\"schema\":" + Order + "}}" + field + "}";
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string json)
    {
        using var response = await _server.Client.PostAsync("/v1/chat/completions", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task CompactAnswersHaveNoWhitespaceOutsideStrings()
    {
        var validator = JsonSchemaValidator.Create(Order);
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(seed => PostAsync(Body(seed, "compact"))));
        foreach (var (status, body) in answers)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            var text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
            Assert.Empty(validator.Validate(text));
            Assert.True(WhitespaceOutsideStrings(text) == 0, $"whitespace between tokens in a compact answer: {JsonSerializer.Serialize(text)}");
            Assert.Equal(0, body.GetProperty("structured_output").GetProperty("repairs").GetInt32());
        }
    }

    [Fact]
    public async Task AnUnknownModeIsRefusedNamingTheField()
    {
        var (status, body) = await PostAsync(Body(0, "tight"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = body.GetProperty("error");
        Assert.Equal("json_whitespace", error.GetProperty("param").GetString());
        Assert.Contains("compact, bounded or any", error.GetProperty("message").GetString());

        (status, body) = await PostAsync($$"""{"model":"{{_server.Model.Name}}","messages":[{"role":"user","content":"x"}],"json_whitespace":"compact"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("json_whitespace", body.GetProperty("error").GetProperty("param").GetString());
    }

    /// <summary>
    /// A measurement, printed and not asserted beyond validity: completion tokens of the order's answers
    /// under each mode, and how many of them are whitespace between tokens.
    /// </summary>
    [Fact]
    public async Task TokensPerAnswerUnderEachModeArePrinted()
    {
        const int Requests = 16;
        output.WriteLine($"coffee order on the tiny random model (vocab 600), {Requests} seeds, max_tokens 200");
        output.WriteLine($"{"mode",-8} {"tokens mean",12} {"min",5} {"max",5} {"whitespace chars mean",22} {"valid",6}");
        var validator = JsonSchemaValidator.Create(Order);
        foreach (var mode in new[] { "compact", "bounded", "any" })
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, Requests).Select(seed => PostAsync(Body(seed, mode))));
            var tokens = new List<int>();
            var whitespace = new List<int>();
            var valid = 0;
            foreach (var (status, body) in answers)
            {
                Assert.Equal(HttpStatusCode.OK, status);
                var text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
                tokens.Add(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
                whitespace.Add(WhitespaceOutsideStrings(text));
                valid += validator.Validate(text).Count == 0 ? 1 : 0;
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{mode,-8} {tokens.Average(),12:F1} {tokens.Min(),5} {tokens.Max(),5} {whitespace.Average(),22:F1} {$"{valid}/{Requests}",6}"));
            Assert.Equal(Requests, valid);
        }
    }

    /// <summary>JSON whitespace characters outside string literals (escapes inside strings honoured).</summary>
    private static int WhitespaceOutsideStrings(string json)
    {
        var count = 0;
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (inString)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    inString = false;
                }
            }
            else if (c == '"')
            {
                inString = true;
            }
            else if (c is ' ' or '\t' or '\n' or '\r')
            {
                count++;
            }
        }

        return count;
    }
}
