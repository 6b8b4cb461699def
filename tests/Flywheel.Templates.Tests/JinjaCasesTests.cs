using System.Text.Json;
using Flywheel.Templates;

namespace Flywheel.Templates.Tests;

/// <summary>
/// Runs every case of JinjaCases.json: small templates covering each supported feature, whose expected
/// output (or failure) was produced by Python Jinja2 3.1.6 configured as transformers configures it
/// (see jinja2-reference.py). Cases marked "python": false are deliberate differences, explained in "why".
/// </summary>
public sealed class JinjaCasesTests
{
    private static readonly Lazy<JsonElement[]> Cases = new(() =>
    {
        var path = Path.Combine(AppContext.BaseDirectory, "JinjaCases.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return [.. document.RootElement.EnumerateArray().Select(e => e.Clone())];
    });

    public static TheoryData<string> CaseNames()
    {
        var names = new TheoryData<string>();
        foreach (var c in Cases.Value)
        {
            names.Add(c.GetProperty("name").GetString()!);
        }

        return names;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Renders_like_jinja2(string name)
    {
        var c = Cases.Value.Single(x => x.GetProperty("name").GetString() == name);
        var source = c.GetProperty("template").GetString()!;
        var extra = new Dictionary<string, object?>();
        if (c.TryGetProperty("context", out var context))
        {
            foreach (var property in context.EnumerateObject())
            {
                extra[property.Name] = property.Value;
            }
        }

        if (c.TryGetProperty("error", out var error))
        {
            var ex = Assert.ThrowsAny<TemplateException>(() => ChatTemplate.Parse(source).Render([], false, extra: extra));
            Assert.False(string.IsNullOrWhiteSpace(ex.Message), $"jinja2 says: {error.GetString()}");
            return;
        }

        var rendered = ChatTemplate.Parse(source).Render([], false, extra: extra);
        Assert.Equal(c.GetProperty("expected").GetString(), rendered);
    }

    [Fact]
    public void Case_file_holds_cases_with_an_expectation_each()
    {
        Assert.True(Cases.Value.Length >= 100);
        Assert.All(Cases.Value, c => Assert.True(c.TryGetProperty("expected", out _) || c.TryGetProperty("error", out _), c.ToString()));
    }
}
