using System.Text;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Every instance of the JSON-Schema-Test-Suite that <c>flywheel grammar test</c> runs goes through
/// both the grammar (do its bytes, serialised like Python's json.dumps, complete the compiled
/// grammar?) and the validator, wherever both accept the schema. They must agree with each other
/// and with the suite, except for the documented narrowings listed in <see cref="Narrowings"/>.
/// </summary>
public sealed class GrammarValidatorAgreementTests
{
    private static readonly Lazy<string> SuiteDir = new(() =>
    {
        var script = Path.Combine(TestAssets.RepositoryRoot, "build", "fetch-schema-suite.sh");
        var (exitCode, stdout, stderr) = TestAssets.Run("bash", [script], TimeSpan.FromMinutes(5));
        return exitCode == 0 ? stdout.Trim().Split('\n')[^1] : throw new InvalidOperationException($"{script} failed ({exitCode}): {stderr}");
    });

    private sealed record Row(string Where, bool Grammar, bool Validator, bool Expected, bool SchemaRefused = false);

    private static List<Row> Run(string root) => Run(root, []);

    private static List<Row> Run(string root, List<string> refusedCases)
    {
        var rows = new List<Row>();
        foreach (var file in Directory.EnumerateFiles(root, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(root, file);
            foreach (var c in GrammarSuiteCase.Parse(name, File.ReadAllText(file)))
            {
                JsonSchemaGrammar grammar;
                JsonSchemaValidator validator;
                try
                {
                    grammar = JsonSchemaGrammar.Compile(c.SchemaJson);
                }
                catch (SchemaCompileException e)
                {
                    refusedCases.Add($"{name} / {c.Description}: {e.Message}");
                    continue;
                }

                try
                {
                    validator = JsonSchemaValidator.Create(c.SchemaJson);
                }
                catch (SchemaCompileException e)
                {
                    // The server compiles both: a schema the grammar takes but the validator refuses is a 400 for nothing.
                    rows.Add(new($"{name} / {c.Description}: the validator refuses a schema the grammar compiles: {e.Message}", false, false, false, SchemaRefused: true));
                    continue;
                }

                foreach (var t in c.Tests)
                {
                    using var doc = JsonDocument.Parse(t.DataJson);
                    var text = PythonJsonWriter.Write(doc.RootElement);
                    var m = grammar.CreateByteMatcher();
                    var accepted = m.TryAdvance(Encoding.UTF8.GetBytes(text)) && m.IsComplete;
                    rows.Add(new($"{name} / {c.Description} / {t.Description}: {text}", accepted, validator.Validate(t.DataJson).Count == 0, t.Valid));
                }
            }
        }

        return rows;
    }

    /// <summary>
    /// Valid instances the grammar does not generate, by suite case ("file / case description"),
    /// each with the narrowing that explains it. Only "grammar rejects, validator and suite accept"
    /// may be listed here; every other disagreement is a bug.
    /// </summary>
    private static readonly Dictionary<string, string> Narrowings = new(StringComparer.Ordinal)
    {
        ["additionalProperties.json / additionalProperties are allowed by default"] = "an object that declares properties but not additionalProperties gets no others",
        ["properties.json / object properties validation"] = "an object that declares properties but not additionalProperties gets no others",
        ["patternProperties.json / regexes are not anchored by default and are case sensitive"] = "an object that declares properties but not additionalProperties gets no others",
        ["allOf.json / allOf"] = "properties in declared order (the instance lists them in another)",
        ["allOf.json / allOf with base schema"] = "properties in declared order (the instance lists them in another)",
        ["patternProperties.json / multiple simultaneous patternProperties are validated"] = "a key matched by two overlapping patternProperties is not generated (undocumented in JsonSchemaGrammar)",
        ["maxLength.json / maxLength validation"] = "a string of supplementary-plane characters is refused below maxLength (undocumented in JsonSchemaGrammar)",
        ["enum-equality.json / an object member is not its text"] = "an enum or const object or array is generated in its compact form only",
        ["optional/format.json / validation of URIs"] = "format uri generates http/https URLs only (StringFormats)",
        ["uniqueItems.json / uniqueItems compares objects regardless of key order"] = "enum/const objects and arrays are generated in their compact spelling (the instance has spaces inside)",
        ["optional/format.json / validation of time strings"] = "format time is RFC 3339 full-time with an offset (StringFormats); draft 3's time has none",
    };

    /// <summary>
    /// Instances on which the validator (and the grammar) follow the current specification against
    /// this old suite's label, by "file / case / test".
    /// </summary>
    private static readonly Dictionary<string, string> Outdated = new(StringComparer.Ordinal)
    {
        ["optional/format.json / validation of URIs / a valid protocol-relative URI"] =
            "a protocol-relative reference is a URI-reference, not a URI (RFC 3986 section 4.3; later suite versions label it invalid for format uri)",
    };

    [Theory]
    [InlineData("draft4")]
    [InlineData("draft3")]
    public void Grammar_and_validator_agree_on_every_instance(string draft)
    {
        var rows = Run(Path.Combine(SuiteDir.Value, draft));
        Assert.True(rows.Count > 150, $"only {rows.Count} instances ran: the suite or the compilers changed");
        var faults = Faults(rows);
        Assert.True(faults.Count == 0, string.Join("\n", faults));
    }

    /// <summary>
    /// The project's own cases (draft 2020-12, in the suite's layout) for the keywords compiled by
    /// rewriting: if/then/else, not, dependentRequired, dependentSchemas, propertyNames,
    /// minProperties/maxProperties, multipleOf, anchors, oneOf under a sibling type; and uniqueItems over
    /// finite domains, lookahead and word-boundary patterns, format uri-reference. Every case must
    /// compile, and grammar, validator and the expected verdict must agree on every instance.
    /// </summary>
    [Fact]
    public void Grammar_and_validator_agree_on_the_keyword_cases()
    {
        var refused = new List<string>();
        var rows = Run(Path.Combine(AppContext.BaseDirectory, "Structured", "KeywordSuite"), refused);
        Assert.True(refused.Count == 0, string.Join("\n", refused));
        Assert.True(rows.Count > 120, $"only {rows.Count} instances ran");
        var faults = Faults(rows);
        Assert.True(faults.Count == 0, string.Join("\n", faults));
    }

    private static List<string> Faults(List<Row> rows)
    {
        var faults = new List<string>();
        foreach (var r in rows)
        {
            if (r.SchemaRefused)
            {
                faults.Add(r.Where);
            }
            else if (Outdated.Keys.Any(k => r.Where.StartsWith(k + ": ", StringComparison.Ordinal)))
            {
                if (r.Grammar || r.Validator)
                {
                    faults.Add($"accepted against the current specification: {r.Where}");
                }
            }
            else if (r.Validator != r.Expected)
            {
                faults.Add($"validator says {(r.Validator ? "valid" : "invalid")}, the suite {(r.Expected ? "valid" : "invalid")}: {r.Where}");
            }
            else if (r.Grammar && !r.Expected)
            {
                faults.Add($"grammar accepts an invalid instance: {r.Where}");
            }
            else if (!r.Grammar && r.Expected && !Narrowings.Keys.Any(k => r.Where.StartsWith(k + " / ", StringComparison.Ordinal)))
            {
                faults.Add($"grammar refuses a valid instance with no documented narrowing: {r.Where}");
            }
        }

        return faults;
    }
}
