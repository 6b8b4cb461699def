using System.Text.Json;

namespace Flywheel.LoadGen.Workload;

/// <summary>
/// Reads a scenario from JSON (comments and trailing commas allowed). The format:
/// <code>
/// {
///   "name": "rag",                      // optional; defaults to the file name
///   "endpoint": "chat",                 // "chat" (default) or "completions"
///   "stream": true,                     // default true
///   "promptTokens": { "kind": "lognormal", "median": 900, "sigma": 0.4, "min": 256, "max": 1600 },
///   "outputTokens": { "kind": "uniform", "min": 32, "max": 128 },
///   "structuredShare": 0.25,            // share of requests with a json_schema response_format; default 0
///   "schema": { "type": "object", ... }, // optional JSON Schema for those requests
///   "temperature": 0.0,                 // optional; omitted from requests when absent
///   "ignoreEos": true                   // default true: send ignore_eos so outputs run to max_tokens
/// }
/// </code>
/// Length distributions: <c>{"kind":"fixed","value":N}</c> (or just <c>N</c>),
/// <c>{"kind":"uniform","min":A,"max":B}</c>,
/// <c>{"kind":"normal","mean":M,"stddev":S,"min":A,"max":B}</c> (clipped to [min, max]),
/// <c>{"kind":"lognormal","median":M,"sigma":S,"min":A,"max":B}</c> (clipped; sigma of the log).
/// For normal and lognormal, min defaults to 1 and max to 4 times the mean/median.
/// Unknown fields are errors, so a typo never silently falls back to a default.
/// </summary>
public static class ScenarioFile
{
    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Loads a scenario file; throws <see cref="ScenarioFormatException"/> naming the bad field, or an I/O exception.</summary>
    public static Scenario Load(string path) =>
        Parse(File.ReadAllText(path), Path.GetFileNameWithoutExtension(path));

    /// <summary>Parses scenario JSON; throws <see cref="ScenarioFormatException"/> naming the bad field.</summary>
    public static Scenario Parse(string json, string defaultName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new ScenarioFormatException($"scenario is not valid JSON: {e.Message}");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ScenarioFormatException("scenario must be a JSON object");
            }
            var reader = new JsonFieldReader(root, "");
            var scenario = new Scenario
            {
                Name = reader.OptionalString("name") ?? defaultName,
                Endpoint = reader.OptionalString("endpoint") switch
                {
                    null or "chat" => ApiEndpoint.Chat,
                    "completions" => ApiEndpoint.Completions,
                    var other => throw new ScenarioFormatException($"field 'endpoint' must be \"chat\" or \"completions\", not \"{other}\""),
                },
                Stream = reader.OptionalBool("stream") ?? true,
                PromptTokens = ReadLength(reader.Required("promptTokens"), "promptTokens"),
                OutputTokens = ReadLength(reader.Required("outputTokens"), "outputTokens"),
                StructuredShare = reader.OptionalNumber("structuredShare", 0, 1) ?? 0,
                SchemaJson = reader.OptionalObjectText("schema"),
                Temperature = reader.OptionalNumber("temperature", 0, 100),
                IgnoreEos = reader.OptionalBool("ignoreEos") ?? true,
            };
            reader.RejectUnknown();
            return scenario;
        }
    }

    private static LengthDistribution ReadLength(JsonElement element, string field)
    {
        if (element.ValueKind == JsonValueKind.Number)
        {
            return new FixedLength(new JsonFieldReader(element, field).AsLength());
        }
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw new ScenarioFormatException($"field '{field}' must be a number or an object with a \"kind\"");
        }

        var reader = new JsonFieldReader(element, field + ".");
        var kind = reader.OptionalString("kind") ?? throw new ScenarioFormatException($"field '{field}.kind' is required");
        LengthDistribution result;
        switch (kind)
        {
            case "fixed":
                result = new FixedLength(reader.RequiredLength("value"));
                break;
            case "uniform":
                var (low, high) = (reader.RequiredLength("min"), reader.RequiredLength("max"));
                CheckRange(field, low, high);
                result = new UniformLength(low, high);
                break;
            case "normal":
                var mean = reader.RequiredNumber("mean", 1, 1e7);
                var sd = reader.RequiredNumber("stddev", 0, 1e7);
                var (nLow, nHigh) = (reader.OptionalLength("min") ?? 1, reader.OptionalLength("max") ?? (int)Math.Ceiling(4 * mean));
                CheckRange(field, nLow, nHigh);
                result = new ClippedNormalLength(mean, sd, nLow, nHigh);
                break;
            case "lognormal":
                var median = reader.RequiredNumber("median", 1, 1e7);
                var sigma = reader.RequiredNumber("sigma", 0, 10);
                var (lLow, lHigh) = (reader.OptionalLength("min") ?? 1, reader.OptionalLength("max") ?? (int)Math.Ceiling(4 * median));
                CheckRange(field, lLow, lHigh);
                result = new LogNormalLength(median, sigma, lLow, lHigh);
                break;
            default:
                throw new ScenarioFormatException(
                    $"field '{field}.kind' must be one of \"fixed\", \"uniform\", \"normal\", \"lognormal\", not \"{kind}\"");
        }
        reader.RejectUnknown();
        return result;
    }

    private static void CheckRange(string field, int low, int high)
    {
        if (high < low)
        {
            throw new ScenarioFormatException($"field '{field}.max' ({high}) must be >= '{field}.min' ({low})");
        }
    }
}

/// <summary>A scenario file that cannot be used; the message names the field at fault.</summary>
public sealed class ScenarioFormatException(string message) : Exception(message);
