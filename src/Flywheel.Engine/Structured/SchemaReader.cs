using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>
/// Reads a JSON Schema document (2020-12, with draft-07/04 idioms: <c>definitions</c>, <c>items</c>
/// as an array, boolean <c>exclusiveMinimum</c>) into <see cref="SchemaNode"/>s. Assertions it cannot
/// honour exactly are refused here, naming the keyword and the JSON pointer. Unknown keywords are
/// ignored, as the specification says; annotations are ignored.
/// </summary>
internal sealed partial class SchemaReader
{
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "$schema", "$id", "$anchor", "$comment", "$vocabulary", "$defs", "definitions", "title", "description",
        "default", "examples", "deprecated", "readOnly", "writeOnly", "contentEncoding", "contentMediaType",
        "nullable", "discriminator", "example", "xml", "externalDocs",
    };

    private static readonly Dictionary<string, string> Refused = new(StringComparer.Ordinal)
    {
        ["$dynamicRef"] = "dynamic references are not supported",
        ["$dynamicAnchor"] = "dynamic references are not supported",
        ["$recursiveRef"] = "dynamic references are not supported",
        ["$recursiveAnchor"] = "dynamic references are not supported",
        ["contentSchema"] = "content schemas are not supported",

        // Draft-03 assertions: unknown keywords to later drafts, but a schema using them means them.
        ["disallow"] = "a draft-03 keyword; use not",
        ["divisibleBy"] = "a draft-03 keyword; use multipleOf",
        ["extends"] = "a draft-03 keyword; use allOf",
    };

    private readonly JsonElement _root;
    private readonly SchemaAnchors _anchors;
    private readonly Dictionary<string, SchemaNode> _byPointer = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reading = new(StringComparer.Ordinal);

    /// <param name="root">The document.</param>
    /// <param name="anchors">Its plain-name anchors (from <see cref="SchemaReferences.EnsureLocal"/>); none when null.</param>
    public SchemaReader(JsonElement root, SchemaAnchors? anchors = null)
    {
        _root = root;
        _anchors = anchors ?? SchemaAnchors.None;
        Merger = new SchemaMerger(this);
    }

    /// <summary>The one merger of this compile (it remembers which merges are in progress).</summary>
    public SchemaMerger Merger { get; }

    /// <summary>The depth bound shared by reading, merging and grammar building of this compile.</summary>
    public NestingGuard Guard { get; } = new();

    /// <summary>
    /// The node at <paramref name="pointer"/> (a '#'-prefixed JSON pointer), read once and cached.
    /// While that node is itself still being read (a recursive reference), returns null, or throws
    /// when <paramref name="requireBody"/> says the caller needs the body now (merging).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public SchemaNode? Resolve(string pointer, string from, bool requireBody)
    {
        if (_byPointer.TryGetValue(pointer, out var node))
        {
            return node;
        }

        if (!_reading.Add(pointer))
        {
            return requireBody
                ? throw new SchemaCompileException("$ref", from, $"'{pointer}' is recursive and cannot be merged with sibling keywords or allOf")
                : null;
        }

        try
        {
            node = Read(Locate(pointer, from), pointer);
            _byPointer[pointer] = node;
            return node;
        }
        finally
        {
            _reading.Remove(pointer);
        }
    }

    private JsonElement Locate(string pointer, string from)
    {
        if (!pointer.StartsWith('#'))
        {
            throw new SchemaCompileException("$ref", from, $"only references within the document (\"#...\") are supported, not '{pointer}'");
        }

        var current = _root;
        foreach (var raw in pointer.Length <= 2 ? [] : Uri.UnescapeDataString(pointer[2..]).Split('/'))
        {
            var part = raw.Replace("~1", "/").Replace("~0", "~");
            if (current.ValueKind == JsonValueKind.Object && current.TryGetProperty(part, out var child))
            {
                current = child;
            }
            else if (current.ValueKind == JsonValueKind.Array && int.TryParse(part, out var index) && index < current.GetArrayLength())
            {
                current = current[index];
            }
            else
            {
                throw new SchemaCompileException("$ref", from, $"'{pointer}' does not resolve inside the document");
            }
        }

        return current;
    }

    /// <summary>Reads one schema (object or boolean) at <paramref name="pointer"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public SchemaNode Read(JsonElement schema, string pointer)
    {
        Guard.Enter("(schema)", pointer);
        try
        {
            return ReadBody(schema, pointer);
        }
        finally
        {
            Guard.Exit();
        }
    }

    private SchemaNode ReadBody(JsonElement schema, string pointer)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return SchemaNode.True(pointer);
        }

        if (schema.ValueKind == JsonValueKind.False)
        {
            return SchemaNode.False(pointer);
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new SchemaCompileException("(schema)", pointer, "a schema must be a JSON object or a boolean");
        }

        var node = SchemaNode.True(pointer);
        var parts = new List<SchemaNode>();
        var draft4ExclusiveMin = false;
        var draft4ExclusiveMax = false;
        (List<SchemaNode> Branches, string At)? oneOf = null;
        (JsonElement Schema, string At)? unevaluated = null, unevaluatedItems = null;
        foreach (var kw in schema.EnumerateObject())
        {
            var at = pointer + "/" + Escape(kw.Name);
            var v = kw.Value;
            switch (kw.Name)
            {
                case var k when Ignored.Contains(k) || k.StartsWith("x-", StringComparison.Ordinal):
                    break;
                case var k when Refused.TryGetValue(k, out var why):
                    throw new SchemaCompileException(k, pointer, why);
                case "type":
                    node.Types = ReadTypes(v, pointer);
                    break;
                case "enum":
                    Expect(v, JsonValueKind.Array, "enum", pointer);
                    node.Enum = [.. v.EnumerateArray().Select(e => e.Clone())];
                    break;
                case "const":
                    node.Enum = [v.Clone()];
                    break;
                case "properties":
                    Expect(v, JsonValueKind.Object, "properties", pointer);
                    node.Properties = [.. v.EnumerateObject().Select(p =>
                        new KeyValuePair<string, SchemaNode>(p.Name, Read(p.Value, at + "/" + Escape(p.Name))))];
                    break;
                case "required":
                    Expect(v, JsonValueKind.Array, "required", pointer);
                    node.Required = [.. v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
                        ? e.GetString()! : throw new SchemaCompileException("required", pointer, "entries must be strings"))];
                    break;
                case "additionalProperties":
                    node.AdditionalProperties = Read(v, at);
                    break;
                case "patternProperties":
                    Expect(v, JsonValueKind.Object, "patternProperties", pointer);
                    node.PatternProperties = [.. v.EnumerateObject().Select(p =>
                        new KeyValuePair<string, SchemaNode>(p.Name, Read(p.Value, at + "/" + Escape(p.Name))))];
                    break;
                case "minProperties": node.MinProperties = ReadCount(v, "minProperties", pointer); break;
                case "maxProperties": node.MaxProperties = ReadCount(v, "maxProperties", pointer); break;
                case "prefixItems":
                    Expect(v, JsonValueKind.Array, "prefixItems", pointer);
                    node.PrefixItems = [.. v.EnumerateArray().Select((e, i) => Read(e, at + "/" + i))];
                    break;
                case "items" when v.ValueKind == JsonValueKind.Array:
                    // Draft-07 tuple form: items[] is prefixItems, additionalItems is items.
                    node.PrefixItems = [.. v.EnumerateArray().Select((e, i) => Read(e, at + "/" + i))];
                    if (schema.TryGetProperty("additionalItems", out var additional))
                    {
                        node.Items = Read(additional, pointer + "/additionalItems");
                    }

                    break;
                case "items":
                    node.Items = Read(v, at);
                    break;
                case "additionalItems":
                    break; // handled with the array form of items; meaningless otherwise
                case "minItems": node.MinItems = ReadCount(v, "minItems", pointer); break;
                case "maxItems": node.MaxItems = ReadCount(v, "maxItems", pointer); break;
                case "uniqueItems":
                    node.UniqueItems = v.ValueKind == JsonValueKind.True;
                    break;
                case "minLength": node.MinLength = ReadCount(v, "minLength", pointer); break;
                case "maxLength": node.MaxLength = ReadCount(v, "maxLength", pointer); break;
                case "pattern":
                    Expect(v, JsonValueKind.String, "pattern", pointer);
                    node.Patterns = [v.GetString()!];
                    break;
                case "format":
                    Expect(v, JsonValueKind.String, "format", pointer);
                    StringFormats.Get(v.GetString()!, pointer); // refuses unknown formats now
                    node.Formats = [v.GetString()!];
                    break;
                case "minimum":
                    node.Minimum = Tighter(node.Minimum, new(ReadNumber(v, "minimum", pointer), false), lower: true);
                    break;
                case "maximum":
                    node.Maximum = Tighter(node.Maximum, new(ReadNumber(v, "maximum", pointer), false), lower: false);
                    break;
                case "exclusiveMinimum" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    draft4ExclusiveMin = v.ValueKind == JsonValueKind.True;
                    break;
                case "exclusiveMaximum" when v.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    draft4ExclusiveMax = v.ValueKind == JsonValueKind.True;
                    break;
                case "exclusiveMinimum":
                    node.Minimum = Tighter(node.Minimum, new(ReadNumber(v, "exclusiveMinimum", pointer), true), lower: true);
                    break;
                case "exclusiveMaximum":
                    node.Maximum = Tighter(node.Maximum, new(ReadNumber(v, "exclusiveMaximum", pointer), true), lower: false);
                    break;
                case "allOf":
                    Expect(v, JsonValueKind.Array, "allOf", pointer);
                    parts.AddRange(v.EnumerateArray().Select((e, i) => Read(e, at + "/" + i)));
                    break;
                case "anyOf":
                    Expect(v, JsonValueKind.Array, "anyOf", pointer);
                    parts.Add(Merger.Union([.. v.EnumerateArray().Select((e, i) => Read(e, at + "/" + i))], at));
                    break;
                case "oneOf":
                    Expect(v, JsonValueKind.Array, "oneOf", pointer);
                    oneOf = (v.EnumerateArray().Select((e, i) => Read(e, at + "/" + i)).ToList(), at);
                    break;
                case "not":
                    parts.Add(Merger.Negate(Read(v, at), "not", pointer));
                    break;
                case "if":
                    parts.Add(Merger.Conditional(Read(v, at),
                        schema.TryGetProperty("then", out var then) ? Read(then, pointer + "/then") : null,
                        schema.TryGetProperty("else", out var otherwise) ? Read(otherwise, pointer + "/else") : null, pointer));
                    break;
                case "then" or "else":
                    break; // handled with if; without it they mean nothing
                case "dependentRequired" or "dependentSchemas" or "dependencies":
                    parts.AddRange(ReadDependencies(v, kw.Name, at));
                    break;
                case "unevaluatedProperties":
                    unevaluated = (v, at);
                    break;
                case "unevaluatedItems":
                    unevaluatedItems = (v, at);
                    break;
                case "contains":
                    node.Contains = Read(v, at);
                    break;
                case "minContains": node.MinContains = ReadCount(v, "minContains", pointer); break;
                case "maxContains": node.MaxContains = ReadCount(v, "maxContains", pointer); break;
                case "propertyNames":
                    node.PropertyNames = Read(v, at);
                    break;
                case "multipleOf":
                    node.MultipleOf = ReadNumber(v, "multipleOf", pointer);
                    if (node.MultipleOf.Value.Negative || node.MultipleOf.Value.IsZero)
                    {
                        throw new SchemaCompileException("multipleOf", pointer, "must be greater than 0");
                    }

                    break;
                case "$ref":
                    Expect(v, JsonValueKind.String, "$ref", pointer);
                    // Not followed here: a chain of references read eagerly would recurse once per
                    // link. The grammar builder reads each target when it builds its rule (a
                    // worklist, not recursion), and merging reads the targets it needs.
                    parts.Add(new SchemaNode { Pointer = pointer, Ref = _anchors.ToPointer(v.GetString()!) });
                    break;
                default:
                    break; // unknown keywords carry no assertion
            }
        }

        if (draft4ExclusiveMin && node.Minimum is { } min)
        {
            node.Minimum = min with { Exclusive = true };
        }

        if (draft4ExclusiveMax && node.Maximum is { } max)
        {
            node.Maximum = max with { Exclusive = true };
        }

        if (oneOf is var (branches, oneOfAt))
        {
            // Exclusivity is judged on the branches as the sibling type narrows them: a discriminator
            // in branches without their own "type" still separates the objects the sibling allows.
            var narrowed = node.Types == JsonTypes.All ? branches
                : [.. branches.Select(b => Merger.Merge(new SchemaNode { Pointer = b.Pointer, Types = node.Types }, b, oneOfAt))];
            parts.Add(Merger.OneOf(branches, narrowed, oneOfAt));
        }

        // Siblings of allOf/anyOf/oneOf/$ref all apply together: merge into one node. Neighbours
        // pairwise, round after round, not each into the running result: a merge copies the
        // properties of both sides, so folding 200 objects of 10 properties one by one copied the
        // growing object 200 times (200,000 property merges, 120 MB); pairwise, each property is
        // copied once per round. Conjunction is associative and the order of the parts is kept.
        parts.Insert(0, node);
        while (parts.Count > 1)
        {
            var merged = new List<SchemaNode>((parts.Count + 1) / 2);
            for (var i = 0; i < parts.Count; i += 2)
            {
                merged.Add(i + 1 < parts.Count ? Merger.Merge(parts[i], parts[i + 1], pointer) : parts[i]);
            }

            parts = merged;
        }

        var result = parts[0];
        result = unevaluated is var (u, uAt) ? Unevaluated(result, schema, pointer, Read(u, uAt)) : result;
        return unevaluatedItems is var (ui, uiAt) ? UnevaluatedItems(result, schema, pointer, Read(ui, uiAt)) : result;
    }
}
