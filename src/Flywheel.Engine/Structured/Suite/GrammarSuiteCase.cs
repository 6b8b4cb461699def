using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>One instance of a suite case: a JSON value (its raw text) and whether the schema accepts it.</summary>
public sealed record GrammarSuiteTest(string? Description, string DataJson, bool Valid);

/// <summary>
/// A JSON Schema with instances to classify, as the JSON-Schema-Test-Suite writes them. A case file
/// is either one object <c>{"schema": ..., "tests": [...]}</c> or an array of
/// <c>{"description", "schema", "tests"}</c>; each test is <c>{"description"?, "data", "valid"}</c>.
/// </summary>
/// <param name="File">Where the case came from (for reports).</param>
/// <param name="Description">The case's description, or null.</param>
/// <param name="SchemaJson">The schema's JSON text.</param>
/// <param name="Tests">The instances, in file order.</param>
public sealed record GrammarSuiteCase(string File, string? Description, string SchemaJson, IReadOnlyList<GrammarSuiteTest> Tests)
{
    /// <summary>Reads the cases of one file's text. Throws <see cref="InvalidDataException"/> saying what is wrong when it is not JSON or not in either layout.</summary>
    public static IReadOnlyList<GrammarSuiteCase> Parse(string file, string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: not valid JSON: {e.Message}", e);
        }

        using (doc)
        {
            var root = doc.RootElement;
            return root.ValueKind switch
            {
                JsonValueKind.Object => [ReadCase(file, root, "$")],
                JsonValueKind.Array => [.. root.EnumerateArray().Select((c, i) => ReadCase(file, c, $"$[{i}]"))],
                _ => throw new InvalidDataException($"{file}: expected an object {{\"schema\", \"tests\"}} or an array of them, got {root.ValueKind}"),
            };
        }
    }

    private static GrammarSuiteCase ReadCase(string file, JsonElement c, string where)
    {
        if (c.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{file}: {where} is not an object");
        }

        if (!c.TryGetProperty("schema", out var schema))
        {
            throw new InvalidDataException($"{file}: {where} has no \"schema\"");
        }

        if (!c.TryGetProperty("tests", out var tests) || tests.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{file}: {where} has no \"tests\" array");
        }

        var list = new List<GrammarSuiteTest>();
        foreach (var (t, i) in tests.EnumerateArray().Select((t, i) => (t, i)))
        {
            var at = $"{where}.tests[{i}]";
            if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("data", out var data))
            {
                throw new InvalidDataException($"{file}: {at} has no \"data\"");
            }

            if (!t.TryGetProperty("valid", out var valid) || valid.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            {
                throw new InvalidDataException($"{file}: {at} has no boolean \"valid\"");
            }

            list.Add(new GrammarSuiteTest(DescriptionOf(t), data.GetRawText(), valid.GetBoolean()));
        }

        return new GrammarSuiteCase(file, DescriptionOf(c), schema.GetRawText(), list);
    }

    private static string? DescriptionOf(JsonElement e) =>
        e.TryGetProperty("description", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
}
