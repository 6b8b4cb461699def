using System.Text.Json;
using System.Text.Json.Nodes;
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
/// Validates JSON text against a JSON Schema with NJsonSchema 10.7.2, guarded against its known
/// gaps by rewriting the schema into forms it does check, exactly: <c>const</c> becomes a one-value
/// <c>enum</c>; <c>prefixItems</c>/<c>items</c> become the draft-04 array form of <c>items</c> plus
/// <c>additionalItems</c>; boolean subschemas become <c>{}</c> / <c>{"not":{}}</c>;
/// <c>contains: S</c> becomes <c>not: {type: array, items: {not: S}}</c>; <c>if/then/else</c>
/// becomes <c>anyOf: [allOf: [if, then], allOf: [not: if, else]]</c>; <c>$defs</c> are served as
/// <c>definitions</c>. Keywords it can neither check nor rewrite (minContains, maxContains,
/// unevaluated*, dependentSchemas, $dynamicRef) are refused at construction, so a validation result
/// is never silently wrong. Thread-safe after construction.
/// </summary>
public sealed class JsonSchemaValidator
{
    private static readonly string[] Unsupported =
        ["minContains", "maxContains", "unevaluatedProperties", "unevaluatedItems", "dependentSchemas", "$dynamicRef", "$recursiveRef"];

    private readonly NjSchema _schema;

    private JsonSchemaValidator(NjSchema schema) => _schema = schema;

    /// <summary>Builds a validator; throws <see cref="SchemaCompileException"/> for schemas it cannot check faithfully.</summary>
    public static JsonSchemaValidator Create(string schemaJson)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(schemaJson);
        }
        catch (JsonException e)
        {
            throw new SchemaCompileException("(schema)", "#", $"the schema is not valid JSON: {e.Message}");
        }

        var rewritten = Rewrite(root, "#");
        try
        {
            return new JsonSchemaValidator(NjSchema.FromJsonAsync(rewritten!.ToJsonString()).GetAwaiter().GetResult());
        }
        catch (Exception e) when (e is not SchemaCompileException)
        {
            throw new SchemaCompileException("(schema)", "#", $"the validator cannot load the schema: {e.Message}");
        }
    }

    /// <summary>Validates <paramref name="json"/>; an empty list means valid. Parse errors are reported too.</summary>
    public IReadOnlyList<JsonValidationError> Validate(string json)
    {
        try
        {
            using var _ = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            return [new JsonValidationError("#", $"not valid JSON: {e.Message}")];
        }

        var errors = new List<JsonValidationError>();
        Flatten(_schema.Validate(json), errors);
        return errors;
    }

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

    private static readonly string[] SchemaMaps = ["properties", "patternProperties", "$defs", "definitions", "dependencies"];
    private static readonly string[] SchemaLists = ["allOf", "anyOf", "oneOf", "prefixItems"];
    private static readonly string[] SchemaValues = ["not", "if", "then", "else", "contains", "propertyNames"];

    /// <summary>Rewrites one subschema (and everything below it) into what NJsonSchema checks correctly.</summary>
    private static JsonNode? Rewrite(JsonNode? schema, string pointer)
    {
        if (schema is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            return v.GetValueKind() == JsonValueKind.True ? new JsonObject() : new JsonObject { ["not"] = new JsonObject() };
        }

        if (schema is not JsonObject obj)
        {
            return schema?.DeepClone();
        }

        foreach (var k in Unsupported)
        {
            if (obj.ContainsKey(k))
            {
                throw new SchemaCompileException(k, pointer, "the validator cannot check this keyword");
            }
        }

        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            var at = pointer + "/" + SchemaReader.Escape(key);
            switch (key)
            {
                case var m when SchemaMaps.Contains(m) && value is JsonObject map:
                    var outMap = new JsonObject();
                    foreach (var (name, sub) in map)
                    {
                        outMap[name] = sub is JsonArray ? sub.DeepClone() : Rewrite(sub, at + "/" + SchemaReader.Escape(name));
                    }

                    result[key == "$defs" ? "definitions" : key] = outMap;
                    break;
                case var l when SchemaLists.Contains(l) && value is JsonArray list:
                    result[key] = new JsonArray([.. list.Select((s, i) => Rewrite(s, at + "/" + i))]);
                    break;
                case "items" when value is JsonArray tuple:
                    result[key] = new JsonArray([.. tuple.Select((s, i) => Rewrite(s, at + "/" + i))]);
                    break;
                case var s when SchemaValues.Contains(s) || s is "items" or "additionalItems" or "additionalProperties":
                    var keepBoolean = s is "additionalItems" or "additionalProperties" && value is JsonValue;
                    result[key] = keepBoolean ? value!.DeepClone() : Rewrite(value, at);
                    break;
                case "$ref" when value is JsonValue r && r.GetValueKind() == JsonValueKind.String:
                    result[key] = r.GetValue<string>().Replace("#/$defs/", "#/definitions/", StringComparison.Ordinal);
                    break;
                default:
                    result[key] = value?.DeepClone();
                    break;
            }
        }

        return RewriteGaps(result);
    }

    /// <summary>Replaces the keywords NJsonSchema ignores by equivalent ones it checks.</summary>
    private static JsonObject RewriteGaps(JsonObject s)
    {
        // NJsonSchema treats an object with $ref as a pure reference and drops its siblings
        // (definitions included); since 2019-09 siblings apply too, so move the $ref into allOf.
        if (s.Count > 1 && s.Remove("$ref", out var reference))
        {
            s["allOf"] = Append(s["allOf"], new JsonObject { ["$ref"] = reference });
        }

        if (s.Remove("const", out var constant))
        {
            s["enum"] = new JsonArray(constant?.DeepClone());
        }

        if (s.Remove("prefixItems", out var prefix))
        {
            var rest = s["items"]?.DeepClone();
            s.Remove("items");
            s["items"] = prefix;
            s["additionalItems"] = rest ?? JsonValue.Create(true);
        }

        if (s.Remove("contains", out var contains))
        {
            s["allOf"] = Append(s["allOf"], new JsonObject
            {
                ["not"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["not"] = contains } },
            });
        }

        if (s.Remove("if", out var condition))
        {
            s.Remove("then", out var then);
            s.Remove("else", out var otherwise);
            s["allOf"] = Append(s["allOf"], new JsonObject
            {
                ["anyOf"] = new JsonArray(
                    new JsonObject { ["allOf"] = new JsonArray(condition!.DeepClone(), then ?? new JsonObject()) },
                    new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["not"] = condition }, otherwise ?? new JsonObject()) }),
            });
        }
        else
        {
            s.Remove("then");
            s.Remove("else");
        }

        return s;
    }

    private static JsonArray Append(JsonNode? list, JsonNode item)
    {
        var array = list is JsonArray a ? (JsonArray)a.DeepClone() : [];
        array.Add(item);
        return array;
    }
}
