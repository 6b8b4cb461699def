using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Newtonsoft.Json.Linq;

namespace Flywheel.Structured;

/// <summary>Thrown while validating an instance the validator cannot judge; reported as a validation error, never to a client.</summary>
internal sealed class InstanceNotJudgedException(string path, string message) : Exception(message)
{
    /// <summary>Where in the instance ("#" = the whole document).</summary>
    public string Path { get; } = path;
}

/// <summary>
/// Reads model output into the token tree NJsonSchema validates, remembering each number's exact
/// text (for <see cref="ExactKeywords"/>) and refusing what the validator must not walk: nesting
/// deeper than <see cref="MaxDepth"/> and strings that are not Unicode text. A duplicated key keeps
/// its last value.
/// Iterative, so the input's depth never becomes the stack's.
/// </summary>
internal static class JsonInstance
{
    /// <summary>Deepest nesting of arrays and objects the validator walks (System.Text.Json's default limit).</summary>
    public const int MaxDepth = 64;

    /// <summary>
    /// Parses <paramref name="json"/>; number tokens' texts go into <paramref name="numbers"/>. With
    /// <paramref name="integralIsInteger"/>, a number with no fractional part is an integer however
    /// it is written (1.0, 1e2), as drafts 6 and later say; otherwise only one written without a
    /// fraction or exponent is (drafts 3 and 4).
    /// </summary>
    /// <exception cref="JsonException">Not valid JSON.</exception>
    /// <exception cref="InstanceNotJudgedException">Valid JSON the validator will not walk.</exception>
    public static JToken Read(string json, Dictionary<JToken, string> numbers, bool integralIsInteger = false)
    {
        var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(json), new JsonReaderOptions { MaxDepth = MaxDepth + 1 });
        var open = new Stack<JContainer>();
        JToken? root = null;
        string? name = null;
        while (reader.Read())
        {
            JToken? value = null;
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    if (open.Count >= MaxDepth)
                    {
                        throw new InstanceNotJudgedException("#", $"the instance nests arrays and objects deeper than {MaxDepth} levels; the validator does not walk it");
                    }

                    JContainer container = reader.TokenType == JsonTokenType.StartObject ? new JObject() : new JArray();
                    Add(open, ref root, ref name, container);
                    open.Push(container);
                    continue;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    open.Pop();
                    continue;
                case JsonTokenType.PropertyName:
                    name = Text(ref reader);
                    continue;
                case JsonTokenType.String:
                    value = new JValue(Text(ref reader));
                    break;
                case JsonTokenType.Number:
                    var text = Encoding.UTF8.GetString(reader.ValueSpan);
                    value = Number(text, integralIsInteger);
                    numbers[value] = text;
                    break;
                case JsonTokenType.True or JsonTokenType.False:
                    value = new JValue(reader.TokenType == JsonTokenType.True);
                    break;
                case JsonTokenType.Null:
                    value = JValue.CreateNull();
                    break;
            }

            if (value is not null)
            {
                Add(open, ref root, ref name, value);
            }
        }

        return root ?? throw new JsonException("empty input");
    }

    private static void Add(Stack<JContainer> open, ref JToken? root, ref string? name, JToken value)
    {
        if (open.Count == 0)
        {
            root = value;
        }
        else if (open.Peek() is JObject o)
        {
            // A duplicated key keeps its last value, as JSON.parse and Python's json do: the
            // validator judges what the client's parser will see.
            o[name!] = value;
            name = null;
        }
        else
        {
            open.Peek().Add(value);
        }
    }

    private static string Text(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.GetString()!;
        }
        catch (InvalidOperationException)
        {
            throw new InstanceNotJudgedException("#", "a string is not valid Unicode text (a lone surrogate)");
        }
    }

    /// <summary>
    /// Integers become long or BigInteger values (type integer, as NJsonSchema expects), other
    /// numbers doubles (their bounds are checked on the exact text, not on the double).
    /// </summary>
    private static JValue Number(string text, bool integralIsInteger)
    {
        if (text.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
        {
            return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var small)
                ? new JValue(small)
                : new JValue(BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
        }

        return integralIsInteger && IntegralValue(text) is { } whole
            ? (whole >= long.MinValue && whole <= long.MaxValue ? new JValue((long)whole) : new JValue(whole))
            : new JValue(double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The integer a number written with a fraction or exponent stands for when it has no fractional
    /// part (1.0, 1e2, -2.50e1): since draft 6 that is an integer, however it is written. Null when it
    /// has one, or when it would have more than <see cref="MaxIntegralDigits"/> digits (then it stays a double).
    /// </summary>
    private static BigInteger? IntegralValue(string text)
    {
        var e = text.AsSpan().IndexOfAny('e', 'E');
        var mantissa = e < 0 ? text.AsSpan() : text.AsSpan(0, e);
        var exponent = 0;
        if (e >= 0 && !int.TryParse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent))
        {
            return null;
        }

        var negative = mantissa.StartsWith("-");
        var unsigned = negative ? mantissa[1..] : mantissa;
        var point = unsigned.IndexOf('.');
        var digits = (point < 0 ? unsigned.ToString() : string.Concat(unsigned[..point], unsigned[(point + 1)..])).TrimEnd('0');
        var integerDigits = point < 0 ? unsigned.Length : point;

        // value = digits * 10^scale, the fraction's trailing zeros dropped first
        long scale = (long)integerDigits - digits.Length + exponent;
        digits = digits.TrimStart('0');
        if (digits.Length == 0)
        {
            return BigInteger.Zero;
        }

        if (scale < 0 || scale + digits.Length > MaxIntegralDigits)
        {
            return null;
        }

        var value = BigInteger.Parse(digits, CultureInfo.InvariantCulture) * BigInteger.Pow(10, (int)scale);
        return negative ? -value : value;
    }

    /// <summary>Most digits an integral number written with a fraction or exponent becomes an integer with (about a double's range).</summary>
    private const int MaxIntegralDigits = 310;
}
