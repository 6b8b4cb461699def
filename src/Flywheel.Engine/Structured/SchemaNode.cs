using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>JSON types a schema allows. <see cref="Number"/> always comes with <see cref="Integer"/>.</summary>
[Flags]
internal enum JsonTypes
{
    None = 0,
    Null = 1,
    Boolean = 2,
    Integer = 4,
    Number = 8,
    String = 16,
    Array = 32,
    Object = 64,
    All = 127,
}

/// <summary>
/// A schema after reading and merging: what the grammar builder needs, nothing more. A node is
/// either <see cref="IsFalse"/> (no instance), a reference to a rule (<see cref="Ref"/>), a union
/// (<see cref="AnyOf"/>), or a conjunction of per-type constraints (the other fields).
/// </summary>
internal sealed class SchemaNode
{
    public required string Pointer { get; init; }

    public bool IsFalse { get; set; }

    public string? Ref { get; set; }

    public List<SchemaNode>? AnyOf { get; set; }

    public JsonTypes Types { get; set; } = JsonTypes.All;

    /// <summary>Allowed values (enum / const); null = unrestricted.</summary>
    public List<JsonElement>? Enum { get; set; }

    public List<KeyValuePair<string, SchemaNode>> Properties { get; set; } = [];

    public HashSet<string> Required { get; set; } = [];

    /// <summary>null = not given (any value allowed by the spec; see the grammar builder's narrowing).</summary>
    public SchemaNode? AdditionalProperties { get; set; }

    public List<KeyValuePair<string, SchemaNode>> PatternProperties { get; set; } = [];

    public int MinProperties { get; set; }

    public int? MaxProperties { get; set; }

    public List<SchemaNode> PrefixItems { get; set; } = [];

    /// <summary>Schema of items after the prefix; null = any.</summary>
    public SchemaNode? Items { get; set; }

    public int MinItems { get; set; }

    public int? MaxItems { get; set; }

    public bool UniqueItems { get; set; }

    public int MinLength { get; set; }

    public int? MaxLength { get; set; }

    public List<string> Patterns { get; set; } = [];

    public List<string> Formats { get; set; } = [];

    public NumberAutomata.Bound? Minimum { get; set; }

    public NumberAutomata.Bound? Maximum { get; set; }

    /// <summary>multipleOf (positive); numbers are then generated with at most its fraction digits.</summary>
    public JsonDecimal? MultipleOf { get; set; }

    /// <summary>Values excluded (from a negated enum/const): strings, booleans and null only; null = none.</summary>
    public List<JsonElement>? NotEnum { get; set; }

    /// <summary>contains: the schema counted items must satisfy; null = none.</summary>
    public SchemaNode? Contains { get; set; }

    /// <summary>minContains (1 unless given); meaningful only with <see cref="Contains"/>.</summary>
    public int MinContains { get; set; } = 1;

    /// <summary>maxContains; meaningful only with <see cref="Contains"/>.</summary>
    public int? MaxContains { get; set; }

    /// <summary>propertyNames: the schema every member key (a string) must satisfy; null = any key.</summary>
    public SchemaNode? PropertyNames { get; set; }

    public static SchemaNode True(string pointer) => new() { Pointer = pointer };

    public static SchemaNode False(string pointer) => new() { Pointer = pointer, IsFalse = true };

    /// <summary>True for a schema that accepts every JSON value.</summary>
    public bool IsTrivial =>
        !IsFalse && Ref is null && AnyOf is null && Types == JsonTypes.All && Enum is null
        && Properties.Count == 0 && Required.Count == 0 && AdditionalProperties is null
        && PatternProperties.Count == 0 && MinProperties == 0 && MaxProperties is null
        && PrefixItems.Count == 0 && Items is null && MinItems == 0 && MaxItems is null && !UniqueItems
        && MinLength == 0 && MaxLength is null && Patterns.Count == 0 && Formats.Count == 0
        && Minimum is null && Maximum is null && MultipleOf is null && NotEnum is null && PropertyNames is null && Contains is null;

    public bool HasStringConstraints => MinLength > 0 || MaxLength is not null || Patterns.Count > 0 || Formats.Count > 0
        || (NotEnum?.Any(v => v.ValueKind == JsonValueKind.String) ?? false);

    /// <summary>Whether <paramref name="value"/> is among <see cref="NotEnum"/>.</summary>
    public bool Excludes(JsonElement value) =>
        NotEnum is { } excluded && excluded.Any(e => CanonicalJson.Write(e, sortKeys: true) == CanonicalJson.Write(value, sortKeys: true));

    public bool HasObjectConstraints =>
        Properties.Count > 0 || Required.Count > 0 || AdditionalProperties is not null || PatternProperties.Count > 0
        || MinProperties > 0 || MaxProperties is not null || PropertyNames is not null;

    public bool HasArrayConstraints => PrefixItems.Count > 0 || Items is not null || MinItems > 0 || MaxItems is not null || UniqueItems || Contains is not null;

    public SchemaNode ShallowCopy() => (SchemaNode)MemberwiseClone();
}
