using System.Globalization;
using System.Numerics;

namespace Flywheel.Structured;

/// <summary>multipleOf: plain decimals whose value is an exact multiple of a step.</summary>
internal static partial class NumberAutomata
{
    /// <summary>Largest step numerator (its digits as an integer) a divisibility automaton is built for: one state per remainder and fraction digit.</summary>
    public const int MaxMultipleNumerator = 10_000;

    /// <summary>
    /// DFA of JSON numbers without exponent that are multiples of <paramref name="step"/> (positive),
    /// with at most as many fraction digits as the step has: the step is a / 10^p, so a number with
    /// digits n and f ≤ p fraction digits is a multiple when n · 10^(p-f) is divisible by a. The states
    /// follow n mod a as digits are read. Numbers with more fraction digits than the step (1.50 for
    /// 0.5) are not generated: a documented narrowing. Intersect with <see cref="Bounded"/> for bounds.
    /// </summary>
    public static ByteDfa Multiples(JsonDecimal step, bool integerOnly, string pointer)
    {
        var p = step.FracDigits.Length;
        var numerator = BigInteger.Parse(step.IntDigits + step.FracDigits, CultureInfo.InvariantCulture);
        if (numerator > MaxMultipleNumerator)
        {
            throw new SchemaCompileException("multipleOf", pointer,
                $"a step whose digits exceed {MaxMultipleNumerator} (ignoring the decimal point) is not supported");
        }

        var a = (int)numerator;
        var fractions = integerOnly ? 0 : p;
        const int Start = 0, Minus = 1, Zero = 2, IntBase = 3;
        var dotBase = IntBase + a;
        var fracBase = dotBase + a; // Frac(r, f) for f = 1..fractions
        var count = fracBase + (fractions * a);
        var next = new int[count * 256];
        Array.Fill(next, -1);
        var accept = new bool[count];
        var pow = new int[p + 1]; // 10^k mod a
        pow[0] = 1 % a;
        for (var k = 1; k <= p; k++)
        {
            pow[k] = pow[k - 1] * 10 % a;
        }

        void Digits(int from, Func<int, int> to, byte lo = (byte)'0')
        {
            for (var d = lo; d <= '9'; d++)
            {
                next[(from * 256) + d] = to(d - '0');
            }
        }

        foreach (var s in (ReadOnlySpan<int>)[Start, Minus])
        {
            next[(s * 256) + '0'] = Zero;
            Digits(s, d => IntBase + (d % a), (byte)'1');
        }

        next[(Start * 256) + '-'] = Minus;
        accept[Zero] = true;
        for (var r = 0; r < a; r++)
        {
            Digits(IntBase + r, d => IntBase + (((10 * r) + d) % a));
            accept[IntBase + r] = r * pow[p] % a == 0;
            if (fractions > 0)
            {
                Digits(dotBase + r, d => fracBase + (((10 * r) + d) % a));
            }

            for (var f = 1; f <= fractions; f++)
            {
                var state = fracBase + ((f - 1) * a) + r;
                accept[state] = r * pow[p - f] % a == 0;
                if (f < fractions)
                {
                    Digits(state, d => fracBase + (f * a) + (((10 * r) + d) % a));
                }
            }
        }

        if (fractions > 0)
        {
            next[(Zero * 256) + '.'] = dotBase;
            for (var r = 0; r < a; r++)
            {
                next[((IntBase + r) * 256) + '.'] = dotBase + r;
            }
        }

        return new ByteDfa(next, accept).Trim();
    }

    /// <summary>Exactly: value / step is an integer (both scaled to whole numbers by the same power of ten).</summary>
    public static bool IsMultiple(JsonDecimal value, JsonDecimal step)
    {
        var scale = Math.Max(value.FracDigits.Length, step.FracDigits.Length);
        return Scaled(value, scale) % Scaled(step, scale) == 0;
    }

    private static BigInteger Scaled(JsonDecimal d, int scale) =>
        BigInteger.Parse(d.IntDigits + d.FracDigits.PadRight(scale, '0'), CultureInfo.InvariantCulture);
}
