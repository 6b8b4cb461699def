using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// Property test of numeric bounds: random bounds (fractional, negative, exponent-spelled,
/// inclusive and exclusive in both the draft-4 boolean and the draft-6+ numeric form, on integer
/// and number) against random numbers in every JSON spelling. The grammar must never accept what
/// an exact decimal comparison (below, independent of the compiler's own) refuses, and must accept
/// every valid number inside its documented narrowing (bounded numbers are written without an
/// exponent, integers without a fraction).
/// </summary>
public sealed partial class NumericBoundsPropertyTests
{
    private const int SchemaCount = 1500;

    [GeneratedRegex(@"^(?<neg>-)?(?<int>0|[1-9][0-9]*)(\.(?<frac>[0-9]+))?([eE](?<exp>[+-]?[0-9]+))?$")]
    private static partial Regex JsonNumber();

    [Fact]
    public void Grammar_acceptance_matches_exact_decimal_comparison()
    {
        var random = new Random(20261204);
        var failures = new List<string>();
        var checkedCount = 0;
        for (var n = 0; n < SchemaCount && failures.Count < 10; n++)
        {
            var integer = random.Next(3) == 0;
            var (schema, lower, upper) = RandomSchema(random, integer);
            JsonSchemaGrammar grammar;
            try
            {
                grammar = JsonSchemaGrammar.Compile(schema);
            }
            catch (SchemaCompileException e)
            {
                if (!RangeIsEmpty(integer, lower, upper))
                {
                    failures.Add($"{schema}: refused ({e.Message})");
                }

                continue;
            }

            foreach (var text in Instances(random, lower, upper))
            {
                var valid = IsValid(text, integer, lower, upper);
                var accepted = GrammarKeywordTests.Accepts(grammar, text);
                var narrowed = text.Contains('e', StringComparison.OrdinalIgnoreCase) && (lower is not null || upper is not null)
                    || integer && text.Contains('.', StringComparison.Ordinal) || integer && text.Contains('e', StringComparison.OrdinalIgnoreCase);
                checkedCount++;
                if (accepted && !valid)
                {
                    failures.Add($"{schema}: accepted invalid {text}");
                }
                else if (!accepted && valid && !narrowed)
                {
                    failures.Add($"{schema}: rejected valid {text}");
                }
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} failures (of {checkedCount} checked), e.g.:\n" + string.Join("\n", failures));
        Assert.True(checkedCount > 30_000, $"only {checkedCount} instances checked");
    }

    [Theory]
    [InlineData("""{"type":"number","minimum":0.01}""", "0.01,0.010,0.02,1,10.5", "0,0.0,-0,0.009,0.00999,-1")]
    [InlineData("""{"type":"integer","minimum":0.5}""", "1,2,100", "0,-0,-1")]
    [InlineData("""{"type":"integer","maximum":-0.5}""", "-1,-7", "0,-0,1")]
    [InlineData("""{"type":"number","exclusiveMaximum":-1.25}""", "-1.26,-2,-1.2500001", "-1.25,-1.250,-1.2,0")]
    [InlineData("""{"type":"number","minimum":25e-1,"maximum":3E0}""", "2.5,2.75,3,3.0", "2.4999,3.0001,0,25")]
    [InlineData("""{"type":"number","minimum":-0.001,"exclusiveMinimum":true}""", "0,-0,-0.0009", "-0.001,-0.0010,-1")]
    public void Fractional_bounds_hold_exactly(string schema, string valid, string invalid)
    {
        var grammar = JsonSchemaGrammar.Compile(schema);
        foreach (var v in valid.Split(','))
        {
            Assert.True(GrammarKeywordTests.Accepts(grammar, v), $"should accept {v} for {schema}");
        }

        foreach (var v in invalid.Split(','))
        {
            Assert.False(GrammarKeywordTests.Accepts(grammar, v), $"should reject {v} for {schema}");
        }
    }

    private readonly record struct Limit(decimal Value, bool Exclusive);

    private static (string Schema, Limit? Lower, Limit? Upper) RandomSchema(Random random, bool integer)
    {
        var sb = new StringBuilder($$"""{"type":"{{(integer ? "integer" : "number")}}" """);
        Limit? lower = null, upper = null;
        if (random.Next(5) > 0)
        {
            lower = new(RandomDecimal(random), random.Next(2) == 0);
        }

        if (random.Next(5) > 0)
        {
            var value = lower is { } l && random.Next(4) > 0 ? l.Value + Math.Abs(RandomDecimal(random)) : RandomDecimal(random);
            upper = new(value, random.Next(2) == 0);
        }

        var draft4 = random.Next(2) == 0;
        foreach (var (limit, name) in new[] { (lower, "minimum"), (upper, "maximum") })
        {
            if (limit is not { } b)
            {
                continue;
            }

            var exclusiveName = "exclusive" + char.ToUpperInvariant(name[0]) + name[1..];
            var spelled = Spell(random, b.Value);
            sb.Append(!b.Exclusive ? $$""","{{name}}":{{spelled}}"""
                : draft4 ? $$""","{{name}}":{{spelled}},"{{exclusiveName}}":true"""
                : $$""","{{exclusiveName}}":{{spelled}}""");
        }

        return (sb.Append('}').ToString(), lower, upper);
    }

    private static decimal RandomDecimal(Random random)
    {
        var scale = random.Next(5);
        var unscaled = random.Next(5) switch { 0 => random.Next(10), 1 => random.Next(1000), _ => random.Next(100_000) };
        var value = new decimal(unscaled) / (decimal)Math.Pow(10, scale);
        return random.Next(2) == 0 ? -value : value;
    }

    private static IEnumerable<string> Instances(Random random, Limit? lower, Limit? upper)
    {
        var values = new List<decimal> { 0m, 1m, -1m };
        foreach (var limit in new[] { lower, upper })
        {
            if (limit is { } b)
            {
                foreach (var delta in new[] { 0m, 1m, 0.1m, 0.01m, 0.001m, 0.0001m, 0.00001m, 0.5m })
                {
                    values.Add(b.Value + delta);
                    values.Add(b.Value - delta);
                }

                values.Add(Math.Floor(b.Value));
                values.Add(Math.Ceiling(b.Value));
            }
        }

        for (var i = 0; i < 6; i++)
        {
            values.Add(RandomDecimal(random));
        }

        foreach (var v in values)
        {
            yield return Spell(random, v);
            yield return v.ToString(CultureInfo.InvariantCulture); // the plain spelling, always
        }

        // Spellings of zero and one, big exponents, and text that is no JSON number at all.
        foreach (var text in new[]
        {
            "-0", "0.0", "-0.0", "0e0", "-0E-5", "1e0", "10E-1", "0.1e1", "1.0", "1E+0", "1e400", "-1e400", "1e-400", "0e99999",
            "01", "-01", "00", "00.5", "1.", ".5", "+1", "1e", "--1", "1e+", "0x10", "Infinity", "NaN", "1 ",
        })
        {
            yield return text;
        }
    }

    /// <summary>A random JSON spelling of <paramref name="value"/>: plain, padded fraction, or mantissa and exponent.</summary>
    private static string Spell(Random random, decimal value)
    {
        var plain = Math.Abs(value).ToString(CultureInfo.InvariantCulture);
        var sign = value < 0 ? "-" : random.Next(8) == 0 && value == 0 ? "-" : "";
        var dot = plain.IndexOf('.');
        var digits = dot < 0 ? plain : plain.Remove(dot, 1);
        var point = dot < 0 ? plain.Length : dot; // value = 0.digits... shifted: digits with the point after `point` digits
        switch (random.Next(4))
        {
            case 0:
                return sign + plain;
            case 1:
                return sign + plain + (dot < 0 ? ".0" : "0") + new string('0', random.Next(3));
            default:
                var exponent = random.Next(-6, 7);
                var at = point - exponent; // the mantissa's point position within digits
                var trimmed = digits.TrimStart('0');
                var lead = digits.Length - trimmed.Length;
                (digits, at) = trimmed.Length == 0 ? ("0", 1) : (trimmed, at - lead);
                string mantissa = at <= 0 ? "0." + new string('0', -at) + digits
                    : at >= digits.Length ? digits + new string('0', at - digits.Length)
                    : digits[..at] + "." + digits[at..];
                if (digits == "0")
                {
                    mantissa = "0";
                }

                var e = random.Next(2) == 0 ? "e" : "E";
                var expSign = exponent < 0 ? "-" : random.Next(2) == 0 ? "+" : "";
                return sign + mantissa + e + expSign + Math.Abs(exponent);
        }
    }

    // No value (no integer) lies within the bounds: the compiler rightly refuses such a schema.
    private static bool RangeIsEmpty(bool integer, Limit? lower, Limit? upper)
    {
        if (lower is not { } lo || upper is not { } hi)
        {
            return false;
        }

        if (!integer)
        {
            return lo.Value > hi.Value || (lo.Value == hi.Value && (lo.Exclusive || hi.Exclusive));
        }

        var least = Math.Ceiling(lo.Value) + (lo.Exclusive && lo.Value == Math.Ceiling(lo.Value) ? 1 : 0);
        return least > hi.Value || (least == hi.Value && hi.Exclusive);
    }

    private static bool IsValid(string text, bool integer, Limit? lower, Limit? upper)
    {
        if (Exact.TryParse(text) is not { } x)
        {
            return false;
        }

        if (integer && !x.IsInteger)
        {
            return false;
        }

        if (lower is { } lo && Exact.Compare(x, Exact.Of(lo.Value)) is var cl && (cl < 0 || (cl == 0 && lo.Exclusive)))
        {
            return false;
        }

        return upper is not { } hi || Exact.Compare(x, Exact.Of(hi.Value)) is var ch && (ch < 0 || (ch == 0 && !hi.Exclusive));
    }

    /// <summary>
    /// The reference: sign * 0.Digits * 10^Exponent with Digits free of leading and trailing
    /// zeros (zero: Sign 0). Exponents are unbounded (BigInteger), so 1e400 compares exactly.
    /// </summary>
    private readonly record struct Exact(int Sign, string Digits, BigInteger Exponent)
    {
        public bool IsInteger => Sign == 0 || Exponent >= Digits.Length;

        public static Exact Of(decimal value) => TryParse(value.ToString(CultureInfo.InvariantCulture))!.Value;

        public static Exact? TryParse(string text)
        {
            var m = JsonNumber().Match(text);
            if (!m.Success)
            {
                return null;
            }

            var intPart = m.Groups["int"].Value;
            var all = intPart + m.Groups["frac"].Value;
            var exponent = (m.Groups["exp"].Success ? BigInteger.Parse(m.Groups["exp"].Value, CultureInfo.InvariantCulture) : 0) + intPart.Length;
            var trimmed = all.TrimStart('0');
            exponent -= all.Length - trimmed.Length;
            trimmed = trimmed.TrimEnd('0');
            return trimmed.Length == 0 ? new Exact(0, "", 0) : new Exact(m.Groups["neg"].Success ? -1 : 1, trimmed, exponent);
        }

        public static int Compare(Exact a, Exact b)
        {
            if (a.Sign != b.Sign)
            {
                return a.Sign.CompareTo(b.Sign);
            }

            if (a.Sign == 0)
            {
                return 0;
            }

            var magnitude = a.Exponent != b.Exponent ? a.Exponent.CompareTo(b.Exponent) : Math.Sign(string.CompareOrdinal(
                a.Digits.PadRight(Math.Max(a.Digits.Length, b.Digits.Length), '0'), b.Digits.PadRight(Math.Max(a.Digits.Length, b.Digits.Length), '0')));
            return a.Sign * magnitude;
        }
    }
}
