using System.Globalization;

namespace Flywheel.Structured;

/// <summary>
/// An exact decimal parsed from JSON number text (no binary rounding), as sign, integer digits
/// (no leading zeros, "0" for zero) and fraction digits (no trailing zeros). Bounds are compared
/// and compiled digit by digit, so <c>"maximum": 0.1</c> means exactly one tenth.
/// </summary>
internal readonly record struct JsonDecimal(bool Negative, string IntDigits, string FracDigits)
{
    /// <summary>Most digits a bound may have; exponents beyond it are refused.</summary>
    public const int MaxDigits = 400;

    public static readonly JsonDecimal Zero = new(false, "0", "");

    public bool IsZero => IntDigits == "0" && FracDigits.Length == 0;

    public bool IsInteger => FracDigits.Length == 0;

    public JsonDecimal Abs => this with { Negative = false };

    public JsonDecimal Negate() => IsZero ? this : this with { Negative = !Negative };

    public static JsonDecimal Parse(string text, string keyword, string pointer)
    {
        var s = text.Trim();
        var negative = s.StartsWith('-');
        if (negative)
        {
            s = s[1..];
        }

        var exponent = 0L;
        var e = s.IndexOfAny(['e', 'E']);
        if (e >= 0)
        {
            if (!long.TryParse(s.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out exponent)
                || Math.Abs(exponent) > MaxDigits)
            {
                throw new SchemaCompileException(keyword, pointer, $"number {text} is out of the supported range");
            }

            s = s[..e];
        }

        var dot = s.IndexOf('.');
        var digits = dot >= 0 ? s.Remove(dot, 1) : s;
        var pointPos = (dot >= 0 ? dot : s.Length) + exponent;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
        {
            throw new SchemaCompileException(keyword, pointer, $"'{text}' is not a JSON number");
        }

        if (pointPos < 0)
        {
            digits = new string('0', (int)-pointPos) + digits;
            pointPos = 0;
        }
        else if (pointPos > digits.Length)
        {
            digits += new string('0', (int)(pointPos - digits.Length));
        }

        var intPart = digits[..(int)pointPos].TrimStart('0');
        var fracPart = digits[(int)pointPos..].TrimEnd('0');
        if (intPart.Length + fracPart.Length > MaxDigits)
        {
            throw new SchemaCompileException(keyword, pointer, $"number {text} has more than {MaxDigits} digits");
        }

        var result = new JsonDecimal(negative, intPart.Length == 0 ? "0" : intPart, fracPart);
        return result.IsZero ? Zero : result;
    }

    /// <summary>Numeric comparison.</summary>
    public static int Compare(JsonDecimal a, JsonDecimal b)
    {
        if (a.Negative != b.Negative)
        {
            return a.Negative ? -1 : 1;
        }

        var magnitude = CompareMagnitude(a, b);
        return a.Negative ? -magnitude : magnitude;
    }

    private static int CompareMagnitude(JsonDecimal a, JsonDecimal b)
    {
        if (a.IntDigits.Length != b.IntDigits.Length)
        {
            return a.IntDigits.Length.CompareTo(b.IntDigits.Length);
        }

        var c = string.CompareOrdinal(a.IntDigits, b.IntDigits);
        if (c != 0)
        {
            return Math.Sign(c);
        }

        var n = Math.Max(a.FracDigits.Length, b.FracDigits.Length);
        return Math.Sign(string.CompareOrdinal(a.FracDigits.PadRight(n, '0'), b.FracDigits.PadRight(n, '0')));
    }

    public override string ToString() =>
        (Negative ? "-" : "") + IntDigits + (FracDigits.Length > 0 ? "." + FracDigits : "");
}
