using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using NjSchema = NJsonSchema.JsonSchema;

namespace Flywheel.Structured;

/// <summary>
/// The keywords of one subschema that the validator checks itself instead of through NJsonSchema,
/// because NJsonSchema cannot check them safely or exactly: <c>pattern</c> and
/// <c>patternProperties</c> (its backtracking <see cref="Regex"/> can take exponential time on a
/// model's output; here they run on .NET's non-backtracking engine, linear in the input), numeric
/// bounds (it converts to decimal or double, and throws on integers wider than decimal; here they are
/// compared exactly as <see cref="JsonDecimal"/>), and string lengths (it counts UTF-16 units; JSON
/// Schema counts code points). <see cref="SchemaRewriter"/> moves them out of the schema into one of
/// these, found again through <see cref="ExtensionKey"/>. Immutable once the schema is loaded.
/// </summary>
internal sealed class ExactKeywords(string pointer)
{
    /// <summary>The extension keyword NJsonSchema keeps (as a number: this object's index) where the keywords were.</summary>
    public const string ExtensionKey = "x-flywheel-exact";

    private const RegexOptions PatternOptions = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    /// <summary>
    /// Largest automaton (in .NET's regex nodes) a pattern may build on the non-backtracking engine.
    /// .NET's default (10,000) refuses patterns of a few thousand characters that the grammar compiles
    /// (a 10,000-character pattern is ~25,000 nodes). Matching stays linear in the input; the bound keeps
    /// a pattern's memory and per-character cost bounded. A host that sets the value itself keeps its own.
    /// </summary>
    private const int MaxPatternAutomatonNodes = 60_000;

    // Declared before UriSyntax so it runs before the first non-backtracking Regex is built.
    private static readonly bool AutomatonLimitSet = SetAutomatonLimit();

    /// <summary>JSON pointer of the subschema (for messages).</summary>
    public string Pointer { get; } = pointer;

    public PatternCheck? Pattern { get; set; }

    /// <summary><c>format: uri</c>: RFC 3986 absolute-URI syntax (NJsonSchema's own check accepts Windows UNC paths).</summary>
    public bool Uri { get; set; }

    /// <summary>RFC 3986: scheme ":" then only URI characters or percent-escapes (no spaces, no backslashes).</summary>
    public static Regex UriSyntax { get; } =
        new(@"^[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$", PatternOptions);

    /// <summary><c>format: uri-reference</c>: RFC 3986 URI-reference syntax (NJsonSchema has no check for it and accepts anything).</summary>
    public bool UriReference { get; set; }

    /// <summary>The RFC 3986 URI-reference grammar of <see cref="StringFormats"/>, run on the non-backtracking engine.</summary>
    public static Regex UriReferenceSyntax { get; } = new(EcmaPattern.ToDotNet(StringFormats.Pattern("uri-reference")), PatternOptions);

    public long? MinLength { get; set; }

    public long? MaxLength { get; set; }

    public JsonDecimal? Minimum { get; set; }

    public JsonDecimal? Maximum { get; set; }

    public JsonDecimal? ExclusiveMinimum { get; set; }

    public JsonDecimal? ExclusiveMaximum { get; set; }

    public JsonDecimal? MultipleOf { get; set; }

    /// <summary>patternProperties: each pattern with the name of the definition its subschema was moved to.</summary>
    public List<(PatternCheck Pattern, string Definition)> PatternProperties { get; } = [];

    /// <summary>Whether additionalProperties moved here too (it depends on patternProperties, so they move together).</summary>
    public bool OwnsAdditional { get; set; }

    /// <summary>additionalProperties as a boolean (null: a schema, see <see cref="AdditionalDefinition"/>, or absent).</summary>
    public bool? AdditionalAllowed { get; set; }

    public string? AdditionalDefinition { get; set; }

    /// <summary>unevaluatedProperties: the definition its schema was moved to (properties neither named nor matched below must satisfy it).</summary>
    public string? UnevaluatedDefinition { get; set; }

    /// <summary>Property names evaluated before unevaluatedProperties (this subschema's and those applied in place with it).</summary>
    public HashSet<string> EvaluatedNames { get; } = new(StringComparer.Ordinal);

    /// <summary>patternProperties patterns evaluated before unevaluatedProperties.</summary>
    public List<PatternCheck> EvaluatedPatterns { get; } = [];

    public NjSchema? UnevaluatedSchema { get; private set; }

    /// <summary>unevaluatedItems: the definition its schema was moved to (items past <see cref="EvaluatedPrefix"/> must satisfy it).</summary>
    public string? UnevaluatedItemsDefinition { get; set; }

    /// <summary>How many leading items are evaluated before unevaluatedItems.</summary>
    public int EvaluatedPrefix { get; set; }

    public NjSchema? UnevaluatedItemsSchema { get; private set; }

    /// <summary>contains with minContains/maxContains: the definition its schema was moved to.</summary>
    public string? ContainsDefinition { get; set; }

    public long MinContains { get; set; } = 1;

    public long? MaxContains { get; set; }

    public NjSchema? ContainsSchema { get; private set; }

    /// <summary>propertyNames: the definition its schema was moved to (every key must satisfy it).</summary>
    public string? PropertyNamesDefinition { get; set; }

    public NjSchema? PropertyNamesSchema { get; private set; }

    /// <summary>The names in the subschema's <c>properties</c> (not additional).</summary>
    public HashSet<string> Declared { get; } = new(StringComparer.Ordinal);

    /// <summary>The loaded subschemas of <see cref="PatternProperties"/>, in order (after <see cref="Resolve"/>).</summary>
    public NjSchema[] PatternSchemas { get; private set; } = [];

    public NjSchema? AdditionalSchema { get; private set; }

    public bool IsEmpty =>
        Pattern is null && !Uri && !UriReference && MinLength is null && MaxLength is null && Minimum is null && Maximum is null
        && ExclusiveMinimum is null && ExclusiveMaximum is null && MultipleOf is null && !OwnsAdditional && PropertyNamesDefinition is null && UnevaluatedDefinition is null && UnevaluatedItemsDefinition is null && ContainsDefinition is null;

    public bool HasNumberBounds => Minimum is not null || Maximum is not null || ExclusiveMinimum is not null || ExclusiveMaximum is not null || MultipleOf is not null;

    /// <summary>Finds the moved subschemas among the loaded root's definitions.</summary>
    public void Resolve(NjSchema root)
    {
        PatternSchemas = [.. PatternProperties.Select(p => root.Definitions[p.Definition])];
        AdditionalSchema = AdditionalDefinition is null ? null : root.Definitions[AdditionalDefinition];
        PropertyNamesSchema = PropertyNamesDefinition is null ? null : root.Definitions[PropertyNamesDefinition];
        UnevaluatedSchema = UnevaluatedDefinition is null ? null : root.Definitions[UnevaluatedDefinition];
        UnevaluatedItemsSchema = UnevaluatedItemsDefinition is null ? null : root.Definitions[UnevaluatedItemsDefinition];
        ContainsSchema = ContainsDefinition is null ? null : root.Definitions[ContainsDefinition];
    }

    private static bool SetAutomatonLimit()
    {
        const string Key = "REGEX_NONBACKTRACKING_MAX_AUTOMATA_SIZE";
        if (AppContext.GetData(Key) is null)
        {
            AppContext.SetData(Key, MaxPatternAutomatonNodes);
        }

        return true;
    }

    /// <summary>
    /// Compiles a pattern for the non-backtracking engine, or, with a lookahead or word boundary, for
    /// the automaton (<see cref="PatternCheck"/>). Constructs neither can run (backreferences, other
    /// lookarounds, atomic groups) are refused naming the keyword: a validation that may never end
    /// is not an option, and silently skipping the pattern would accept what the schema forbids.
    /// </summary>
    public static PatternCheck CompilePattern(string pattern, string keyword, string pointer)
    {
        _ = AutomatonLimitSet; // the limit is in place before the engine reads it
        if (PatternCheck.TryAutomaton(pattern, keyword, pointer) is { } automaton)
        {
            return automaton;
        }

        try
        {
            return new PatternCheck(new Regex(EcmaPattern.ToDotNet(pattern), PatternOptions));
        }
        catch (NotSupportedException e)
        {
            // Backreferences, lookarounds and atomic groups need backtracking; very large patterns exceed the engine's size limit.
            throw new SchemaCompileException(keyword, pointer, $"pattern '{Shorten(pattern)}' cannot be checked in linear time (a backtracking engine could run without end on model output): {e.Message}");
        }
        catch (ArgumentException e)
        {
            throw new SchemaCompileException(keyword, pointer, $"'{Shorten(pattern)}' is not a valid regular expression: {e.Message}");
        }
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..60] + "..." + text[^10..];

    /// <summary>Reads a numeric keyword's value exactly.</summary>
    public static JsonDecimal ReadNumber(JsonNode? value, string keyword, string pointer) =>
        value is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? JsonDecimal.Parse(v.ToJsonString(), keyword, pointer)
            : throw new SchemaCompileException(keyword, pointer, "must be a number");

    /// <summary>Reads a length keyword (a non-negative integer).</summary>
    public static long ReadLength(JsonNode? value, string keyword, string pointer)
    {
        var n = ReadNumber(value, keyword, pointer);
        return !n.Negative && n.IsInteger && long.TryParse(n.IntDigits, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
            ? length
            : throw new SchemaCompileException(keyword, pointer, "must be a non-negative integer");
    }
}
