using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Flywheel.Structured;

/// <summary>
/// Automata for JSON numbers. Without bounds: the full JSON number syntax (integers: no fraction,
/// no exponent, a documented narrowing, since JSON Schema counts 1.0 as an integer too). With
/// bounds: plain decimals (no exponent) whose exact value lies within the bounds, built digit by
/// digit against the decimal digits of each bound, so the limits hold exactly.
/// </summary>
internal static partial class NumberAutomata
{
    /// <summary>A bound: the value and whether it is exclusive.</summary>
    public readonly record struct Bound(JsonDecimal Value, bool Exclusive);

    /// <summary>Appends any JSON number (or integer) and returns the end state.</summary>
    public static int EmitUnbounded(ByteNfa nfa, int from, bool integerOnly)
    {
        var sign = nfa.AddState();
        nfa.AddEps(from, sign);
        nfa.AddBytes(from, (byte)'-', (byte)'-', sign);
        var intEnd = nfa.AddState();
        nfa.AddBytes(sign, (byte)'0', (byte)'0', intEnd);
        var more = nfa.Range(sign, (byte)'1', (byte)'9');
        nfa.AddBytes(more, (byte)'0', (byte)'9', more);
        nfa.AddEps(more, intEnd);
        if (integerOnly)
        {
            return intEnd;
        }

        var end = nfa.AddState();
        nfa.AddEps(intEnd, end);
        var frac = nfa.Range(nfa.Literal(intEnd, "."u8), (byte)'0', (byte)'9');
        nfa.AddBytes(frac, (byte)'0', (byte)'9', frac);
        nfa.AddEps(frac, end);
        var exp = nfa.AddState();
        nfa.AddBytes(end, (byte)'e', (byte)'e', exp);
        nfa.AddBytes(end, (byte)'E', (byte)'E', exp);
        var expSign = nfa.AddState();
        nfa.AddEps(exp, expSign);
        nfa.AddBytes(exp, (byte)'+', (byte)'+', expSign);
        nfa.AddBytes(exp, (byte)'-', (byte)'-', expSign);
        var expDigits = nfa.Range(expSign, (byte)'0', (byte)'9');
        nfa.AddBytes(expDigits, (byte)'0', (byte)'9', expDigits);
        var done = nfa.AddState();
        nfa.AddEps(end, done);
        nfa.AddEps(expDigits, done);
        return done;
    }

    /// <summary>DFA of plain decimals (or integers) v with lower &lt;(=) v &lt;(=) upper.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ByteDfa Bounded(Bound? lower, Bound? upper, bool integerOnly)
    {
        var nfa = new ByteNfa();
        var start = nfa.AddState();
        var end = nfa.AddState();
        var zero = new Bound(JsonDecimal.Zero, false);

        // v >= 0: magnitude in [max(lower, 0), upper].
        if (upper is not { Value.Negative: true })
        {
            var lo = lower is { Value.Negative: false } l ? l : zero;
            nfa.AddEps(nfa.Inline(Magnitude(lo, upper, integerOnly), start), end);
        }

        // v = -m: lower <= v  <=>  m <= -lower;  v <= upper  <=>  m >= -upper.
        if (lower is null || lower.Value.Value.Negative || (lower.Value.Value.IsZero && !lower.Value.Exclusive))
        {
            var mUpper = lower is { } lb ? new Bound(lb.Value.Abs, lb.Exclusive) : (Bound?)null;
            var mLower = upper is { Value.Negative: true } ub ? new Bound(ub.Value.Abs, ub.Exclusive)
                : upper is { Value.IsZero: true, Exclusive: true } ? new Bound(JsonDecimal.Zero, true) : zero;
            var neg = nfa.Literal(start, "-"u8);
            nfa.AddEps(nfa.Inline(Magnitude(mLower, mUpper, integerOnly), neg), end);
        }

        return ByteDfa.FromNfa(nfa, start, end).Trim();
    }

    // Comparison of the digits read so far with a bound: -1, 0, +1.
    private readonly record struct Key(int Phase, int Pos, int CmpLo, int CmpHi);

    private const int PhaseStart = 0, PhaseZero = 1, PhaseInt = 2, PhaseDot = 3, PhaseFrac = 4;

    /// <summary>Non-negative decimals m (no sign) with lower &lt;(=) m &lt;(=) upper.</summary>
    private static ByteDfa Magnitude(Bound lower, Bound? upper, bool integerOnly)
    {
        var lo = lower.Value;
        var hi = upper?.Value;
        var intCap = Math.Max(lo.IntDigits.Length, hi?.IntDigits.Length ?? 0) + 1;
        var fracCap = Math.Max(lo.FracDigits.Length, hi?.FracDigits.Length ?? 0);
        var ids = new Dictionary<Key, int>();
        var keys = new List<Key>();
        var next = new List<int>();
        var accept = new List<bool>();
        int Intern(Key k)
        {
            if (!ids.TryGetValue(k, out var id))
            {
                id = keys.Count;
                ids[k] = id;
                keys.Add(k);
                CollectionsMarshal.SetCount(next, next.Count + 256);
                CollectionsMarshal.AsSpan(next)[^256..].Fill(-1);
                var (cl, ch) = (Final(k, k.CmpLo, lo), Final(k, k.CmpHi, hi));
                accept.Add(k.Phase is PhaseZero or PhaseInt or PhaseFrac
                    && (cl > 0 || (cl == 0 && !lower.Exclusive))
                    && (upper is null || ch < 0 || (ch == 0 && !upper.Value.Exclusive)));
            }

            return id;
        }

        Intern(new Key(PhaseStart, 0, 0, 0));
        for (var i = 0; i < keys.Count; i++)
        {
            var k = keys[i];
            for (var c = '0'; c <= '9'; c++)
            {
                Key? to = k.Phase switch
                {
                    PhaseStart => new Key(c == '0' ? PhaseZero : PhaseInt, 1, Math.Sign(c - lo.IntDigits[0]), hi is null ? 0 : Math.Sign(c - hi.Value.IntDigits[0])),
                    PhaseInt when k.Pos >= intCap => k,
                    PhaseInt => new Key(PhaseInt, k.Pos + 1, StepInt(k.Pos, k.CmpLo, c, lo), hi is null ? 0 : StepInt(k.Pos, k.CmpHi, c, hi.Value)),
                    PhaseDot or PhaseFrac => new Key(PhaseFrac, Math.Min(k.Pos + 1, fracCap), StepFrac(k.Pos, k.CmpLo, c, lo), hi is null ? 0 : StepFrac(k.Pos, k.CmpHi, c, hi.Value)),
                    _ => null,
                };
                if (to is { } t)
                {
                    next[(i << 8) | c] = Intern(t);
                }
            }

            if (!integerOnly && k.Phase is PhaseZero or PhaseInt)
            {
                var dot = new Key(PhaseDot, 0, ResolveInt(k.Pos, k.CmpLo, lo), ResolveInt(k.Pos, k.CmpHi, hi));
                next[(i << 8) | '.'] = Intern(dot);
            }
        }

        return new ByteDfa([.. next], [.. accept]).Trim();
    }

    // Lexicographic step while the integer part is no longer than the bound's.
    private static int StepInt(int pos, int cmp, char c, JsonDecimal bound) =>
        cmp != 0 || pos >= bound.IntDigits.Length ? cmp : Math.Sign(c - bound.IntDigits[pos]);

    // Integer part finished: a longer one is larger, a shorter one smaller (no leading zeros).
    private static int ResolveInt(int pos, int cmp, JsonDecimal? bound)
    {
        if (bound is not { } b)
        {
            return 0;
        }

        return pos > b.IntDigits.Length ? 1 : pos < b.IntDigits.Length ? -1 : cmp;
    }

    // The number ends here: its comparison with the bound. Equal digits so far are not equality
    // while the bound has fraction digits left (they end in a non-zero digit, so the rest of the
    // bound is positive and the number, whose rest is zero, is smaller): 0 is below 0.01.
    private static int Final(Key k, int cmp, JsonDecimal? bound)
    {
        if (bound is not { } b)
        {
            return 0;
        }

        var fracRead = k.Phase == PhaseFrac ? k.Pos : 0;
        var c = k.Phase is PhaseZero or PhaseInt ? ResolveInt(k.Pos, cmp, b) : cmp;
        return c == 0 && fracRead < b.FracDigits.Length ? -1 : c;
    }

    // Fraction digits compare against the bound's, padded with zeros.
    private static int StepFrac(int pos, int cmp, char c, JsonDecimal bound) =>
        cmp != 0 ? cmp : Math.Sign(c - (pos < bound.FracDigits.Length ? bound.FracDigits[pos] : '0'));
}
