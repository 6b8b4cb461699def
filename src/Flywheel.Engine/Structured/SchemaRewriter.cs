using System.Text.Json;
using System.Text.Json.Nodes;

namespace Flywheel.Structured;

/// <summary>
/// Rewrites a JSON Schema into a form NJsonSchema checks correctly (see <see cref="JsonSchemaValidator"/>):
/// keywords it ignores or mis-checks become equivalent ones it checks, keywords it cannot check
/// safely or exactly move into <see cref="ExactKeywords"/> (found again through
/// <see cref="ExactKeywords.ExtensionKey"/>), and keywords nothing here can check are refused with
/// <see cref="SchemaCompileException"/>. One instance per schema; not thread-safe.
/// </summary>
internal sealed class SchemaRewriter(SchemaAnchors? anchors = null, JsonElement? original = null)
{
    private const string MovedPrefix = "x-flywheel-moved-";

    private static readonly string[] Unsupported =
        ["$dynamicRef", "$recursiveRef"];

    private static readonly string[] Dependencies = ["dependentRequired", "dependentSchemas", "dependencies"];

    private static readonly string[] SchemaMaps = ["properties", "patternProperties", "dependencies", "dependentSchemas", "dependentRequired"];
    private static readonly string[] DefinitionMaps = ["$defs", "definitions"];
    private static readonly string[] SchemaLists = ["allOf", "anyOf", "oneOf", "prefixItems"];
    private static readonly string[] SchemaValues = ["not", "if", "then", "else", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems"];

    private readonly List<ExactKeywords> _keywords = [];
    private readonly JsonObject _moved = [];

    /// <summary>The keywords moved out of the schema; the index is the value of <see cref="ExactKeywords.ExtensionKey"/>.</summary>
    public IReadOnlyList<ExactKeywords> Keywords => _keywords;

    /// <summary>Rewrites a whole document (the root may receive the moved subschemas as definitions).</summary>
    public JsonObject RewriteDocument(JsonNode? root)
    {
        var result = Rewrite(root, "#") as JsonObject ?? throw new SchemaCompileException("(schema)", "#", "a schema must be a JSON object or a boolean");
        if (_moved.Count > 0)
        {
            // A lone $ref makes NJsonSchema ignore every sibling, the definitions added here included.
            if (result.Remove("$ref", out var reference))
            {
                result["allOf"] = Append(result["allOf"], new JsonObject { ["$ref"] = reference });
                GuardSingleReferences(result);
            }

            var definitions = result["definitions"] as JsonObject ?? [];
            foreach (var (name, schema) in _moved)
            {
                definitions[name] = schema!.DeepClone();
            }

            result["definitions"] = definitions;
        }

        return result;
    }

    /// <summary>
    /// A reference's JSON pointer into the rewritten document: <c>$defs</c> are served as
    /// <c>definitions</c> and <c>prefixItems</c> as the array form of <c>items</c> at every level, so
    /// their keyword segments are renamed (a property or definition that happens to bear such a name is not).
    /// </summary>
    internal static string RewritePointer(string pointer)
    {
        if (!pointer.StartsWith("#/", StringComparison.Ordinal))
        {
            return pointer;
        }

        var segments = pointer[2..].Split('/');
        var keyword = true;
        for (var i = 0; i < segments.Length; i++)
        {
            if (!keyword)
            {
                keyword = true;
                continue;
            }

            var segment = segments[i];
            segments[i] = segment switch
            {
                "$defs" => "definitions",
                "prefixItems" => "items",
                _ => segment,
            };

            // The next segment is a name or an index (not a keyword) after a map or list keyword.
            var nextIsIndex = i + 1 < segments.Length && segments[i + 1].Length > 0 && segments[i + 1].All(char.IsAsciiDigit);
            keyword = !(DefinitionMaps.Contains(segment) || SchemaMaps.Contains(segment) || SchemaLists.Contains(segment) || (segment == "items" && nextIsIndex));
        }

        return "#/" + string.Join('/', segments);
    }

    /// <summary>Rewrites one subschema (and everything below it).</summary>
    private JsonNode? Rewrite(JsonNode? schema, string pointer)
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

        // unevaluatedProperties / unevaluatedItems: what counts as evaluated is read from the original document.
        var unevaluated = ScopeOf(obj, "unevaluatedProperties", pointer, UnevaluatedScope.Of);
        var unevaluatedItems = ScopeOf(obj, "unevaluatedItems", pointer, UnevaluatedScope.OfItems);

        var result = new JsonObject();
        foreach (var (key, value) in obj)
        {
            var at = pointer + "/" + SchemaReader.Escape(key);
            switch (key)
            {
                case var d when DefinitionMaps.Contains(d) && value is JsonObject defs:
                    // $defs are served as draft-04 definitions, the only name NJsonSchema resolves.
                    var into = result["definitions"] as JsonObject ?? [];
                    foreach (var (name, sub) in defs)
                    {
                        if (into.ContainsKey(name))
                        {
                            throw new SchemaCompileException(key, at, $"\"{name}\" is defined in both $defs and definitions");
                        }

                        into[name] = Rewrite(sub, at + "/" + SchemaReader.Escape(name));
                    }

                    result["definitions"] = into;
                    break;
                case var m when SchemaMaps.Contains(m) && value is JsonObject map:
                    var outMap = new JsonObject();
                    foreach (var (name, sub) in map)
                    {
                        outMap[name] = sub is JsonArray ? sub.DeepClone() : Rewrite(sub, at + "/" + SchemaReader.Escape(name));
                    }

                    result[key] = outMap;
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
                    var target = (anchors ?? SchemaAnchors.None).ToPointer(r.GetValue<string>());
                    result[key] = RewritePointer(target);
                    break;
                default:
                    result[key] = value?.DeepClone();
                    break;
            }
        }

        MoveExactKeywords(result, pointer, unevaluated, unevaluatedItems);
        RewriteGaps(result);
        GuardSingleReferences(result);
        return result;
    }

    /// <summary>The scope of <paramref name="keyword"/> in <paramref name="obj"/> (at <paramref name="pointer"/>), or null without it.</summary>
    private UnevaluatedScope? ScopeOf(JsonObject obj, string keyword, string pointer, Func<JsonElement, JsonElement, string, SchemaAnchors, UnevaluatedScope> walk)
    {
        if (!obj.ContainsKey(keyword))
        {
            return null;
        }

        var root = original ?? throw new SchemaCompileException(keyword, pointer, "the validator needs the original document");
        return walk(root, Locate(root, pointer), pointer, anchors ?? SchemaAnchors.None);
    }

    /// <summary>Moves the keywords NJsonSchema cannot check safely or exactly into an <see cref="ExactKeywords"/>.</summary>
    private void MoveExactKeywords(JsonObject s, string pointer, UnevaluatedScope? unevaluated, UnevaluatedScope? unevaluatedItems)
    {
        var k = new ExactKeywords(pointer);
        if (s.Remove("unevaluatedItems", out var restItems) && unevaluatedItems is { All: false })
        {
            // NJsonSchema ignores it: checked here on the items past those evaluated before it.
            k.UnevaluatedItemsDefinition = MovedPrefix + _moved.Count;
            _moved[k.UnevaluatedItemsDefinition] = restItems?.DeepClone();
            k.EvaluatedPrefix = unevaluatedItems.Prefix;
        }

        if (s.Remove("unevaluatedProperties", out var rest) && unevaluated is { All: false })
        {
            // NJsonSchema ignores it: checked here against the names and patterns evaluated before it.
            k.UnevaluatedDefinition = MovedPrefix + _moved.Count;
            _moved[k.UnevaluatedDefinition] = rest?.DeepClone();
            k.EvaluatedNames.UnionWith(unevaluated.Names);
            k.EvaluatedPatterns.AddRange(unevaluated.Patterns.Select(p => ExactKeywords.CompilePattern(p, "patternProperties", pointer)));
        }

        if (s.Remove("pattern", out var pattern))
        {
            k.Pattern = pattern is JsonValue p && p.GetValueKind() == JsonValueKind.String
                ? ExactKeywords.CompilePattern(p.GetValue<string>(), "pattern", pointer)
                : throw new SchemaCompileException("pattern", pointer, "must be a string");
        }

        if (s["format"] is JsonValue f && f.GetValueKind() == JsonValueKind.String && f.GetValue<string>() == "uri")
        {
            s.Remove("format");
            k.Uri = true;
        }
        else if (s["format"] is JsonValue r && r.GetValueKind() == JsonValueKind.String && r.GetValue<string>() == "uri-reference")
        {
            s.Remove("format");
            k.UriReference = true;
        }

        if (s.Remove("minLength", out var minLength))
        {
            k.MinLength = ExactKeywords.ReadLength(minLength, "minLength", pointer);
        }

        if (s.Remove("maxLength", out var maxLength))
        {
            k.MaxLength = ExactKeywords.ReadLength(maxLength, "maxLength", pointer);
        }

        MoveNumberBounds(s, k, pointer);
        var minContains = s.Remove("minContains", out var minNode) ? ExactKeywords.ReadLength(minNode, "minContains", pointer) : (long?)null;
        var maxContains = s.Remove("maxContains", out var maxNode) ? ExactKeywords.ReadLength(maxNode, "maxContains", pointer) : (long?)null;
        if ((minContains is not null || maxContains is not null) && s.Remove("contains", out var contains))
        {
            // NJsonSchema knows contains only through the not/items/not rewrite (at least one); counts are checked here.
            k.ContainsDefinition = MovedPrefix + _moved.Count;
            _moved[k.ContainsDefinition] = contains?.DeepClone();
            (k.MinContains, k.MaxContains) = (minContains ?? 1, maxContains);
        }
        if (s.Remove("propertyNames", out var propertyNames))
        {
            // NJsonSchema does not know propertyNames: each key is checked here against the moved schema.
            k.PropertyNamesDefinition = MovedPrefix + _moved.Count;
            _moved[k.PropertyNamesDefinition] = propertyNames?.DeepClone();
        }

        if (s.Remove("patternProperties", out var patternProperties) && patternProperties is JsonObject patterns)
        {
            var at = pointer + "/patternProperties";
            foreach (var (regex, sub) in patterns)
            {
                var name = MovedPrefix + _moved.Count;
                _moved[name] = sub?.DeepClone();
                k.PatternProperties.Add((ExactKeywords.CompilePattern(regex, "patternProperties", at), name));
            }

            // Which properties are additional depends on the patterns, so additionalProperties moves too.
            k.OwnsAdditional = true;
            if (s["properties"] is JsonObject declared)
            {
                k.Declared.UnionWith(declared.Select(p => p.Key));
            }

            if (s.Remove("additionalProperties", out var additional))
            {
                if (additional is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
                {
                    k.AdditionalAllowed = b.GetValueKind() == JsonValueKind.True;
                }
                else if (additional is JsonObject)
                {
                    k.AdditionalDefinition = MovedPrefix + _moved.Count;
                    _moved[k.AdditionalDefinition] = additional.DeepClone();
                }
            }
        }

        if (!k.IsEmpty)
        {
            s[ExactKeywords.ExtensionKey] = _keywords.Count;
            _keywords.Add(k);
        }
    }

    private static void MoveNumberBounds(JsonObject s, ExactKeywords k, string pointer)
    {
        if (s.Remove("minimum", out var minimum))
        {
            k.Minimum = ExactKeywords.ReadNumber(minimum, "minimum", pointer);
        }

        if (s.Remove("maximum", out var maximum))
        {
            k.Maximum = ExactKeywords.ReadNumber(maximum, "maximum", pointer);
        }

        // Draft 4 spells exclusive bounds as a boolean beside minimum/maximum; later drafts as a number.
        (k.ExclusiveMinimum, k.Minimum) = ReadExclusive(s, "exclusiveMinimum", k.ExclusiveMinimum, k.Minimum, pointer);
        (k.ExclusiveMaximum, k.Maximum) = ReadExclusive(s, "exclusiveMaximum", k.ExclusiveMaximum, k.Maximum, pointer);

        if (s.Remove("multipleOf", out var multipleOf))
        {
            k.MultipleOf = ExactKeywords.ReadNumber(multipleOf, "multipleOf", pointer);
            if (k.MultipleOf.Value.Negative || k.MultipleOf.Value.IsZero)
            {
                throw new SchemaCompileException("multipleOf", pointer, "must be greater than 0");
            }
        }
    }

    /// <summary>Replaces the keywords NJsonSchema ignores by equivalent ones it checks.</summary>
    /// <summary>
    /// Takes <paramref name="keyword"/> (exclusiveMinimum or exclusiveMaximum) out of <paramref name="s"/>:
    /// draft 4's <c>true</c> makes the inclusive bound exclusive, <c>false</c> changes nothing, a number
    /// (later drafts) is an exclusive bound of its own. Returns the (exclusive, inclusive) pair after it.
    /// </summary>
    private static (JsonDecimal? Exclusive, JsonDecimal? Inclusive) ReadExclusive(
        JsonObject s, string keyword, JsonDecimal? exclusive, JsonDecimal? inclusive, string pointer)
    {
        if (!s.Remove(keyword, out var value))
        {
            return (exclusive, inclusive);
        }

        if (value is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
        {
            return b.GetValueKind() == JsonValueKind.True ? (inclusive, null) : (exclusive, inclusive);
        }

        return (ExactKeywords.ReadNumber(value, keyword, pointer), inclusive);
    }

    private static void RewriteGaps(JsonObject s)
    {
        // NJsonSchema treats an object with $ref as a pure reference and drops its siblings;
        // since 2019-09 siblings apply too, so move the $ref into allOf.
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

        // NJsonSchema checks additionalItems only beside a non-empty tuple; with an empty one every
        // item is additional, which is plain items (or no items at all).
        if (s["items"] is JsonArray { Count: 0 })
        {
            s.Remove("items");
            if (s.Remove("additionalItems", out var additional) && additional is JsonObject itemSchema)
            {
                s["items"] = itemSchema;
            }
            else if (additional is JsonValue b && b.GetValueKind() == JsonValueKind.False)
            {
                s["maxItems"] = 0;
            }
        }

        // A count may be written with a zero fraction (1.0), which NJsonSchema refuses to load: it is that integer.
        foreach (var count in (ReadOnlySpan<string>)["minItems", "maxItems", "minProperties", "maxProperties"])
        {
            if (s[count] is JsonValue c && c.GetValueKind() == JsonValueKind.Number && c.TryGetValue<decimal>(out var d) && d == decimal.Truncate(d) && d is >= 0 and <= int.MaxValue)
            {
                s[count] = (int)d;
            }
        }

        // NJsonSchema reads a zero maxItems/maxProperties as "no bound"; "not at least one" it checks.
        foreach (var (bound, type, least) in (ReadOnlySpan<(string, string, string)>)[("maxItems", "array", "minItems"), ("maxProperties", "object", "minProperties")])
        {
            if (s[bound] is JsonValue zero && zero.GetValueKind() == JsonValueKind.Number && zero.ToJsonString() is "0" or "0.0" or "-0")
            {
                s.Remove(bound);
                s["allOf"] = Append(s["allOf"], new JsonObject { ["not"] = new JsonObject { ["type"] = type, [least] = 1 } });
            }
        }

        if (s.Remove("contains", out var contains))
        {
            s["allOf"] = Append(s["allOf"], new JsonObject
            {
                ["not"] = new JsonObject { ["type"] = "array", ["items"] = new JsonObject { ["not"] = contains } },
            });
        }

        // NJsonSchema knows none of the dependency keywords: each member becomes
        // "absent, or present with what it needs" (an array: those members; a schema: that schema).
        foreach (var keyword in Dependencies)
        {
            if (s.Remove(keyword, out var dependencies) && dependencies is JsonObject map)
            {
                foreach (var (name, then) in map)
                {
                    var needs = then is JsonArray members ? new JsonObject { ["required"] = members.DeepClone() } : then?.DeepClone() ?? new JsonObject();
                    s["allOf"] = Append(s["allOf"], new JsonObject
                    {
                        ["anyOf"] = new JsonArray(
                            new JsonObject { ["not"] = new JsonObject { ["type"] = "object", ["required"] = new JsonArray(name) } },
                            new JsonObject { ["allOf"] = new JsonArray(new JsonObject { ["required"] = new JsonArray(name) }, needs) }),
                    });
                }
            }
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
    }

    /// <summary>
    /// NJsonSchema takes an object whose allOf/anyOf/oneOf holds a single <c>$ref</c> for a pure
    /// reference to it (its <c>HasReference</c>) and then ignores the object's other keywords, e.g.
    /// <c>maxLength</c> beside <c>allOf: [{$ref}]</c>. Wrapping the lone reference as
    /// <c>{allOf: [{$ref}, {}]}</c> means the same and is not taken for a reference.
    /// </summary>
    private static void GuardSingleReferences(JsonObject s)
    {
        foreach (var key in (string[])["allOf", "anyOf", "oneOf"])
        {
            if (s[key] is JsonArray { Count: 1 } list && list[0] is JsonObject only && only.ContainsKey("$ref"))
            {
                list.RemoveAt(0);
                list.Add(new JsonObject { ["allOf"] = new JsonArray(only, new JsonObject()) });
            }
        }
    }

    private static JsonElement Locate(JsonElement root, string pointer)
    {
        var current = root;
        foreach (var raw in pointer.Length <= 2 ? [] : pointer[2..].Split('/'))
        {
            var part = raw.Replace("~1", "/").Replace("~0", "~");
            current = current.ValueKind == JsonValueKind.Array ? current[int.Parse(part, System.Globalization.CultureInfo.InvariantCulture)] : current.GetProperty(part);
        }

        return current;
    }

    private static JsonArray Append(JsonNode? list, JsonNode item)
    {
        var array = list is JsonArray a ? (JsonArray)a.DeepClone() : [];
        array.Add(item);
        return array;
    }
}
