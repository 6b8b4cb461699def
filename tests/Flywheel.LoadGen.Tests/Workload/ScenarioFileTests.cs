using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Workload;

public sealed class ScenarioFileTests
{
    [Fact]
    public void Reads_every_field_and_every_distribution_kind()
    {
        var scenario = ScenarioFile.Parse("""
            {
              // comments and trailing commas are fine
              "name": "rag",
              "endpoint": "completions",
              "stream": false,
              "promptTokens": { "kind": "lognormal", "median": 900, "sigma": 0.4, "min": 256, "max": 1600 },
              "outputTokens": { "kind": "normal", "mean": 64, "stddev": 8 },
              "structuredShare": 0.25,
              "schema": { "type": "object" },
              "temperature": 0.5,
              "ignoreEos": false,
            }
            """, "file");

        Assert.Equal("rag", scenario.Name);
        Assert.Equal(ApiEndpoint.Completions, scenario.Endpoint);
        Assert.False(scenario.Stream);
        Assert.Equal(new LogNormalLength(900, 0.4, 256, 1600), scenario.PromptTokens);
        Assert.Equal(new ClippedNormalLength(64, 8, 1, 256), scenario.OutputTokens);
        Assert.Equal(0.25, scenario.StructuredShare);
        Assert.Equal("""{ "type": "object" }""", scenario.SchemaJson);
        Assert.Equal(0.5, scenario.Temperature);
        Assert.False(scenario.IgnoreEos);

        var minimal = ScenarioFile.Parse("""{"promptTokens": 32, "outputTokens": {"kind":"uniform","min":1,"max":4}}""", "file");
        Assert.Equal(("file", ApiEndpoint.Chat, true, true), (minimal.Name, minimal.Endpoint, minimal.Stream, minimal.IgnoreEos));
        Assert.Equal(new FixedLength(32), minimal.PromptTokens);
        Assert.Equal(new UniformLength(1, 4), minimal.OutputTokens);
    }

    [Theory]
    [InlineData("""{"outputTokens": 4}""", "'promptTokens' is required")]
    [InlineData("""{"promptTokens": 4, "outputTokens": 4, "strem": true}""", "unknown field 'strem'")]
    [InlineData("""{"promptTokens": {"kind":"uniform","min":9,"max":3}, "outputTokens": 4}""", "'promptTokens.max' (3) must be >= 'promptTokens.min' (9)")]
    [InlineData("""{"promptTokens": {"kind":"zipf"}, "outputTokens": 4}""", "'promptTokens.kind' must be one of")]
    [InlineData("""{"promptTokens": 4, "outputTokens": {"kind":"fixed","value":0}}""", "'outputTokens.value' must be an integer")]
    [InlineData("""{"promptTokens": 4, "outputTokens": 4, "structuredShare": 2}""", "'structuredShare' must be a number in [0, 1]")]
    [InlineData("""{"promptTokens": 4, "outputTokens": 4, "endpoint": "embeddings"}""", "'endpoint' must be")]
    [InlineData("""{"promptTokens": 4, "outputTokens": {"kind":"normal","mean":5,"stdev":1}}""", "'outputTokens.stddev' is required")]
    [InlineData("""[1]""", "must be a JSON object")]
    [InlineData("""{"promptTokens": """, "not valid JSON")]
    public void Errors_name_the_field(string json, string expected)
    {
        var e = Assert.Throws<ScenarioFormatException>(() => ScenarioFile.Parse(json, "x"));
        Assert.Contains(expected, e.Message);
    }
}
