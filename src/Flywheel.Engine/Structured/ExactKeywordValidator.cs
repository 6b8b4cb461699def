using System.Globalization;
using System.Numerics;
using System.Runtime.CompilerServices;
using Newtonsoft.Json.Linq;
using NJsonSchema;
using NJsonSchema.Validation;
using NjSchema = NJsonSchema.JsonSchema;

namespace Flywheel.Structured;

/// <summary>
/// NJsonSchema's validator plus the keywords moved into <see cref="ExactKeywords"/>, checked at
/// every subschema it visits (its one overridable step), with the recursion bounded: a validation
/// nesting deeper than <see cref="MaxDepth"/> subschemas stops with an <see cref="InstanceNotJudgedException"/>
/// (a cyclic schema cannot overflow the stack). One instance per validation: not thread-safe.
/// </summary>
internal sealed class ExactKeywordValidator(IReadOnlyList<ExactKeywords> keywords, Dictionary<JToken, string> numbers)
    : NJsonSchema.Validation.JsonSchemaValidator(new JsonSchemaValidatorSettings())
{
    /// <summary>Most nested subschema visits in one validation (instance depth plus allOf/anyOf/$ref layers).</summary>
    public const int MaxDepth = 512;

    // Integers wider than decimal make NJsonSchema's number check throw (it converts to decimal):
    // NJsonSchema sees a stand-in integer, while the exact checks here see the real value.
    private readonly Dictionary<JToken, JToken> _realOf = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<JToken, JToken> _standInOf = new(ReferenceEqualityComparer.Instance);
    private int _depth;

    /// <inheritdoc/>
    protected override ICollection<ValidationError> Validate(JToken token, NjSchema schema, SchemaType schemaType, string? propertyName, string propertyPath)
    {
        // The count bounds the work; the stack probe guards threads with small stacks.
        if (++_depth > MaxDepth || !RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            throw new InstanceNotJudgedException(Path(propertyPath), $"validation nests deeper than {MaxDepth} subschemas (a recursive schema?)");
        }

        try
        {
            var real = _realOf.GetValueOrDefault(token) ?? token;
            var seen = StandIn(real);
            var errors = base.Validate(seen, schema, schemaType, propertyName, propertyPath) as List<ValidationError> ?? [];
            if (schema.Enumeration.Count > 0)
            {
                // NJsonSchema compares enum members by their text (and a stand-in's verdict means
                // nothing): judge the real value by JSON equality instead.
                errors.RemoveAll(e => e.Kind == ValidationErrorKind.NotInEnumeration && (ReferenceEquals(e.Token, seen) || ReferenceEquals(e.Token, real)));
                if (!JsonValueEquality.AnyEquals(schema.Enumeration, real))
                {
                    errors.Add(new ValidationError(ValidationErrorKind.NotInEnumeration, propertyName, propertyPath, real, schema));
                }
            }

            if (schema.UniqueItems && real is JArray items)
            {
                // NJsonSchema compares items by their text too.
                errors.RemoveAll(e => e.Kind == ValidationErrorKind.ItemsNotUnique);
                if (JsonValueEquality.HasDuplicates(items))
                {
                    errors.Add(new ValidationError(ValidationErrorKind.ItemsNotUnique, propertyName, propertyPath, real, schema));
                }
            }

            if (real is not JObject)
            {
                // NJsonSchema reports required properties missing from any instance; they apply to objects only.
                errors.RemoveAll(e => e.Kind == ValidationErrorKind.PropertyRequired);
            }

            if (schema.ExtensionData?.TryGetValue(ExactKeywords.ExtensionKey, out var index) == true)
            {
                Check(real, keywords[Convert.ToInt32(index, CultureInfo.InvariantCulture)], schema, schemaType, propertyName, propertyPath, errors);
            }

            return errors;
        }
        finally
        {
            _depth--;
        }
    }

    private JToken StandIn(JToken real)
    {
        if (real is not JValue { Value: BigInteger big })
        {
            return real;
        }

        if (!_standInOf.TryGetValue(real, out var standIn))
        {
            standIn = new JValue(big.Sign < 0 ? long.MinValue : long.MaxValue);
            _standInOf[real] = standIn;
            _realOf[standIn] = real;
        }

        return standIn;
    }

    private void Check(JToken token, ExactKeywords k, NjSchema schema, SchemaType schemaType, string? propertyName, string propertyPath, List<ValidationError> errors)
    {
        void Fail(ValidationErrorKind kind) => errors.Add(new ValidationError(kind, propertyName, propertyPath, token, schema));

        if (token.Type == JTokenType.String)
        {
            var text = token.Value<string>()!;
            if (k.Pattern is { } pattern && !pattern.IsMatch(text))
            {
                Fail(ValidationErrorKind.PatternMismatch);
            }

            if ((k.Uri && !ExactKeywords.UriSyntax.IsMatch(text)) || (k.UriReference && !ExactKeywords.UriReferenceSyntax.IsMatch(text)))
            {
                Fail(ValidationErrorKind.UriExpected);
            }

            var length = k.MinLength is null && k.MaxLength is null ? 0 : CodePoints(text);
            if (length < k.MinLength)
            {
                Fail(ValidationErrorKind.StringTooShort);
            }

            if (length > k.MaxLength)
            {
                Fail(ValidationErrorKind.StringTooLong);
            }
        }
        else if (token.Type is JTokenType.Integer or JTokenType.Float && k.HasNumberBounds)
        {
            CheckNumber(Exact(token, propertyPath), k, Fail);
        }
        else if (token is JArray array)
        {
            if (k.ContainsSchema is { } contains)
            {
                var counted = array.Count(item => Validate(item, contains.ActualSchema, schemaType, propertyName, propertyPath).Count == 0);
                if (counted < k.MinContains)
                {
                    Fail(ValidationErrorKind.TooFewItems);
                }

                if (counted > k.MaxContains)
                {
                    Fail(ValidationErrorKind.TooManyItems);
                }
            }

            if (k.UnevaluatedItemsSchema is { } unevaluated)
            {
                for (var i = k.EvaluatedPrefix; i < array.Count; i++)
                {
                    var path = $"{propertyPath}[{i}]";
                    var childErrors = Validate(array[i], unevaluated.ActualSchema, schemaType, propertyName, path);
                    if (childErrors.Count > 0)
                    {
                        errors.Add(new ChildSchemaValidationError(ValidationErrorKind.AdditionalItemNotValid, propertyName, path,
                            new Dictionary<NjSchema, ICollection<ValidationError>> { [unevaluated] = childErrors }, array[i], unevaluated));
                    }
                }
            }
        }
        else if (token is JObject obj)
        {
            if (k.OwnsAdditional)
            {
                CheckProperties(obj, k, schema, schemaType, propertyPath, errors);
            }

            if (k.UnevaluatedSchema is { } unevaluated)
            {
                foreach (var property in obj.Properties().Where(p => !k.EvaluatedNames.Contains(p.Name) && !k.EvaluatedPatterns.Any(r => r.IsMatch(p.Name))))
                {
                    var path = string.IsNullOrEmpty(propertyPath) ? property.Name : propertyPath + "." + property.Name;
                    AddChild(property, unevaluated, schemaType, path, ValidationErrorKind.AdditionalPropertiesNotValid, errors);
                }
            }

            if (k.PropertyNamesSchema is { } names)
            {
                foreach (var property in obj.Properties())
                {
                    var path = string.IsNullOrEmpty(propertyPath) ? property.Name : propertyPath + "." + property.Name;
                    var childErrors = Validate(new JValue(property.Name), names.ActualSchema, schemaType, property.Name, path);
                    if (childErrors.Count > 0)
                    {
                        errors.Add(new ChildSchemaValidationError(ValidationErrorKind.AdditionalPropertiesNotValid, property.Name, path,
                            new Dictionary<NjSchema, ICollection<ValidationError>> { [names] = childErrors }, property, names));
                    }
                }
            }
        }
    }

    private static void CheckNumber(JsonDecimal value, ExactKeywords k, Action<ValidationErrorKind> fail)
    {
        if ((k.Minimum is { } min && JsonDecimal.Compare(value, min) < 0) || (k.ExclusiveMinimum is { } emin && JsonDecimal.Compare(value, emin) <= 0))
        {
            fail(ValidationErrorKind.NumberTooSmall);
        }

        if ((k.Maximum is { } max && JsonDecimal.Compare(value, max) > 0) || (k.ExclusiveMaximum is { } emax && JsonDecimal.Compare(value, emax) >= 0))
        {
            fail(ValidationErrorKind.NumberTooBig);
        }

        if (k.MultipleOf is { } step && !IsMultiple(value, step))
        {
            fail(ValidationErrorKind.NumberNotMultipleOf);
        }
    }

    /// <summary>patternProperties (every property whose name matches) and additionalProperties (those neither declared nor matched).</summary>
    private void CheckProperties(JObject obj, ExactKeywords k, NjSchema schema, SchemaType schemaType, string propertyPath, List<ValidationError> errors)
    {
        foreach (var property in obj.Properties())
        {
            var path = string.IsNullOrEmpty(propertyPath) ? property.Name : propertyPath + "." + property.Name;
            var matched = k.Declared.Contains(property.Name);
            for (var i = 0; i < k.PatternProperties.Count; i++)
            {
                if (k.PatternProperties[i].Pattern.IsMatch(property.Name))
                {
                    matched = true;
                    AddChild(property, k.PatternSchemas[i], schemaType, path, ValidationErrorKind.AdditionalPropertiesNotValid, errors);
                }
            }

            if (matched)
            {
                continue;
            }

            if (k.AdditionalSchema is { } additional)
            {
                AddChild(property, additional, schemaType, path, ValidationErrorKind.AdditionalPropertiesNotValid, errors);
            }
            else if (k.AdditionalAllowed == false)
            {
                errors.Add(new ValidationError(ValidationErrorKind.NoAdditionalPropertiesAllowed, property.Name, path, property, schema));
            }
        }
    }

    private void AddChild(JProperty property, NjSchema child, SchemaType schemaType, string path, ValidationErrorKind kind, List<ValidationError> errors)
    {
        var childErrors = Validate(property.Value, child.ActualSchema, schemaType, property.Name, path);
        if (childErrors.Count > 0)
        {
            errors.Add(new ChildSchemaValidationError(kind, property.Name, path, new Dictionary<NjSchema, ICollection<ValidationError>> { [child] = childErrors }, property.Value, child));
        }
    }

    /// <summary>Most a number's exponent may move its point; beyond it the number is not judged (its digits would be unbounded).</summary>
    private const int MaxExponent = 10_000;

    /// <summary>
    /// The number's exact value from its JSON text. Unlike bounds (<see cref="JsonDecimal.Parse"/>),
    /// an instance may have any number of digits: a model can write an integer longer than any
    /// .NET type, and it is still compared exactly.
    /// </summary>
    private JsonDecimal Exact(JToken token, string propertyPath)
    {
        var text = numbers.GetValueOrDefault(token) ?? throw new InstanceNotJudgedException(Path(propertyPath), "a number without its text");
        var negative = text.StartsWith('-');
        var s = negative ? text[1..] : text;
        var exponent = 0;
        var e = s.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            if (!int.TryParse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent) || Math.Abs(exponent) > MaxExponent)
            {
                throw new InstanceNotJudgedException(Path(propertyPath), $"the validator cannot judge the number {Shorten(text)}: its exponent is beyond {MaxExponent}");
            }

            s = s[..e];
        }

        var dot = s.IndexOf('.');
        var digits = dot >= 0 ? s.Remove(dot, 1) : s;
        var point = (dot >= 0 ? dot : s.Length) + exponent;
        if (point < 0)
        {
            (digits, point) = (new string('0', -point) + digits, 0);
        }
        else if (point > digits.Length)
        {
            digits += new string('0', point - digits.Length);
        }

        var integer = digits[..point].TrimStart('0');
        var fraction = digits[point..].TrimEnd('0');
        var value = new JsonDecimal(negative, integer.Length == 0 ? "0" : integer, fraction);
        return value.IsZero ? JsonDecimal.Zero : value;
    }

    /// <summary>Exactly: value / step is an integer, both scaled to whole numbers by the same power of ten.</summary>
    private static bool IsMultiple(JsonDecimal value, JsonDecimal step)
    {
        var scale = Math.Max(value.FracDigits.Length, step.FracDigits.Length);
        return Scaled(value, scale) % Scaled(step, scale) == 0;
    }

    private static BigInteger Scaled(JsonDecimal d, int scale) =>
        BigInteger.Parse(d.IntDigits + d.FracDigits.PadRight(scale, '0'), CultureInfo.InvariantCulture);

    private static int CodePoints(string text)
    {
        var count = 0;
        foreach (var _ in text.EnumerateRunes())
        {
            count++;
        }

        return count;
    }

    private static string Path(string propertyPath) => string.IsNullOrEmpty(propertyPath) ? "#" : propertyPath;

    private static string Shorten(string text) => text.Length <= 40 ? text : text[..20] + "..." + text[^10..];
}
