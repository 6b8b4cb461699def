using System.Text.Json;
using System.Text.Json.Nodes;
using Newtonsoft.Json.Linq;
using NJsonSchema.Validation;
using NjSchema = NJsonSchema.JsonSchema;

namespace Flywheel.Structured;

/// <summary>One validation failure: where (a JSON path into the instance) and what.</summary>
/// <param name="Path">JSON path of the offending value, e.g. "#/items[2].name" ("#" = the whole document).</param>
/// <param name="Message">Readable description.</param>
public sealed record JsonValidationError(string Path, string Message)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Path}: {Message}";
}

/// <summary>
/// Validates JSON text against a JSON Schema with NJsonSchema 11, guarded against its known gaps.
/// The schema is rewritten (<see cref="SchemaRewriter"/>) into forms it checks exactly:
/// <c>const</c> becomes a one-value <c>enum</c>; <c>prefixItems</c>/<c>items</c> become the draft-04
/// array form of <c>items</c> plus <c>additionalItems</c>; boolean subschemas become <c>{}</c> /
/// <c>{"not":{}}</c>; <c>contains: S</c> becomes <c>not: {type: array, items: {not: S}}</c>;
/// <c>if/then/else</c> becomes <c>anyOf: [allOf: [if, then], allOf: [not: if, else]]</c>; keywords
/// beside a <c>$ref</c> move into an <c>allOf</c> with it; <c>$defs</c> are served as
/// <c>definitions</c>; <c>dependentRequired</c>/<c>dependentSchemas</c>/<c>dependencies</c> become
/// <c>anyOf: [not: required, allOf: [required, ...]]</c>; a zero <c>maxItems</c>/<c>maxProperties</c>
/// (which it reads as no bound) becomes <c>not: minItems/minProperties 1</c>; <c>#name</c> anchors
/// become JSON pointers. Patterns, numeric bounds, string lengths and propertyNames are checked here
/// (<see cref="ExactKeywords"/>): patterns without backtracking, numbers exactly at any width.
/// Keywords it can neither check nor rewrite (minContains, maxContains, unevaluated*,
/// $dynamicRef) and references that leave the document are refused at
/// construction, so a result is never silently wrong and a schema never makes the server fetch
/// anything. Validation never throws: an instance it cannot judge (nested deeper than
/// <see cref="JsonInstance.MaxDepth"/>, a number beyond what it compares) is
/// reported as an error. Thread-safe after construction.
/// </summary>
public sealed class JsonSchemaValidator
{
    private readonly NjSchema _schema;
    private readonly IReadOnlyList<ExactKeywords> _keywords;
    private readonly bool _integersMayHaveFraction;

    private JsonSchemaValidator(NjSchema schema, IReadOnlyList<ExactKeywords> keywords, bool integersMayHaveFraction) =>
        (_schema, _keywords, _integersMayHaveFraction) = (schema, keywords, integersMayHaveFraction);

    /// <summary>Builds a validator; throws <see cref="SchemaCompileException"/> for schemas it cannot check faithfully.</summary>
    public static JsonSchemaValidator Create(string schemaJson)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        JsonNode? root;
        SchemaAnchors anchors;
        JsonElement original;
        try
        {
            using (var doc = JsonDocument.Parse(schemaJson))
            {
                anchors = SchemaReferences.EnsureLocal(doc.RootElement);
                original = doc.RootElement.Clone();
            }

            root = JsonNode.Parse(schemaJson);
        }
        catch (JsonException e)
        {
            throw new SchemaCompileException("(schema)", "#", $"the schema is not valid JSON: {e.Message}");
        }

        var rewriter = new SchemaRewriter(anchors, original);
        var rewritten = rewriter.RewriteDocument(root);
        try
        {
            var schema = NjSchema.FromJsonAsync(rewritten.ToJsonString(), null!, s => new LocalReferenceResolver(s)).GetAwaiter().GetResult();
            foreach (var k in rewriter.Keywords)
            {
                k.Resolve(schema);
            }

            return new JsonSchemaValidator(schema, rewriter.Keywords, IntegersMayHaveFraction(original));
        }
        catch (Exception e) when (e is not SchemaCompileException)
        {
            throw new SchemaCompileException("(schema)", "#", $"the validator cannot load the schema: {e.Message}");
        }
    }

    /// <summary>
    /// Validates <paramref name="json"/>; an empty list means valid. Never throws: parse errors and
    /// instances the validator cannot judge are reported as errors too.
    /// </summary>
    public IReadOnlyList<JsonValidationError> Validate(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var numbers = new Dictionary<JToken, string>(ReferenceEqualityComparer.Instance);
        try
        {
            var instance = JsonInstance.Read(json, numbers, _integersMayHaveFraction);
            var errors = new List<JsonValidationError>();
            Flatten(new ExactKeywordValidator(_keywords, numbers).Validate(instance, _schema), errors);
            return errors;
        }
        catch (JsonException e)
        {
            return [new JsonValidationError("#", $"not valid JSON: {e.Message}")];
        }
        catch (InstanceNotJudgedException e)
        {
            return [new JsonValidationError(e.Path, e.Message)];
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A validator fault must not become a 500: the answer is reported as not validated.
            return [new JsonValidationError("#", $"the validator cannot judge this instance ({e.GetType().Name}: {e.Message})")];
        }
    }

    /// <summary>
    /// Whether 1.0 is an integer: since draft 6 an integer is any number with no fractional part;
    /// drafts 3 and 4 (and a schema naming no draft, as most requests do) keep integers written
    /// without a fraction or exponent, the form the grammar generates.
    /// </summary>
    private static bool IntegersMayHaveFraction(JsonElement root) =>
        root.ValueKind == JsonValueKind.Object
        && root.TryGetProperty("$schema", out var draft)
        && draft.ValueKind == JsonValueKind.String
        && draft.GetString() is { } uri
        && (uri.Contains("draft-06", StringComparison.Ordinal) || uri.Contains("draft-07", StringComparison.Ordinal)
            || uri.Contains("/draft/2019-09/", StringComparison.Ordinal) || uri.Contains("/draft/2020-12/", StringComparison.Ordinal));

    private static void Flatten(IEnumerable<ValidationError> source, List<JsonValidationError> into)
    {
        foreach (var e in source)
        {
            var path = string.IsNullOrEmpty(e.Path) ? "#" : e.Path;
            into.Add(new JsonValidationError(path, Describe(e)));
            if (e is ChildSchemaValidationError child)
            {
                foreach (var branch in child.Errors.Values)
                {
                    Flatten(branch, into);
                }
            }
        }
    }

    private static string Describe(ValidationError e)
    {
        // "PropertyRequired" -> "property required"
        var kind = e.Kind.ToString();
        var words = string.Concat(kind.Select((c, i) => i > 0 && char.IsUpper(c) ? " " + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
        return e.Property is { Length: > 0 } p && e.Kind == ValidationErrorKind.PropertyRequired ? $"{words}: \"{p}\"" : words;
    }
}
