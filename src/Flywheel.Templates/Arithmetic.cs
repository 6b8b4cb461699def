namespace Flywheel.Templates;

/// <summary>
/// Python arithmetic: int (long, checked) and float, bool counting as int; str and list concatenation
/// and repetition; floor division and modulo rounding toward negative infinity; "/" always gives a float.
/// </summary>
internal static class Arithmetic
{
    public static object? Apply(RenderState state, string op, object? left, object? right)
    {
        if (PyValues.IsNumber(left) && PyValues.IsNumber(right))
        {
            return left is double || right is double
                ? Float(op, PyValues.ToDouble(left), PyValues.ToDouble(right))
                : Integer(op, AsLong(left), AsLong(right));
        }

        switch (op)
        {
            case "+" when left is string a && right is string b:
                state.CheckSize((long)a.Length + b.Length);
                return a + b;
            case "+" when left is List<object?> a && right is List<object?> b:
                state.CheckSize((long)a.Count + b.Count);
                return new List<object?>([.. a, .. b]);
            case "+" when left is object?[] a && right is object?[] b:
                state.CheckSize((long)a.Length + b.Length);
                return (object?[])[.. a, .. b];
            case "*" when IsSequence(left) && right is long or bool:
                return Repeat(state, left!, AsLong(right));
            case "*" when IsSequence(right) && left is long or bool:
                return Repeat(state, right!, AsLong(left));
            case "%" when left is string:
                throw new TemplateException("printf-style formatting (string % values) is not supported in templates");
        }

        throw new TemplateException(
            $"unsupported operand type(s) for {op}: '{PyValues.TypeName(left)}' and '{PyValues.TypeName(right)}'");
    }

    private static bool IsSequence(object? value) => value is string or List<object?> or object[];

    private static long AsLong(object? value) => value is bool b ? (b ? 1 : 0) : (long)value!;

    private static object Integer(string op, long a, long b)
    {
        switch (op)
        {
            case "+": return checked(a + b);
            case "-": return checked(a - b);
            case "*": return checked(a * b);
            case "/":
                return b == 0 ? throw DivisionByZero() : (double)a / b;
            case "//":
                if (b == 0)
                {
                    throw DivisionByZero();
                }

                var quotient = a / b;
                return (a % b != 0 && ((a < 0) != (b < 0))) ? quotient - 1 : quotient;
            case "%":
                if (b == 0)
                {
                    throw DivisionByZero();
                }

                var remainder = a % b;
                return remainder != 0 && ((remainder < 0) != (b < 0)) ? remainder + b : remainder;
            case "**":
                if (b < 0)
                {
                    return a == 0 ? throw new TemplateException("0.0 cannot be raised to a negative power") : Math.Pow(a, b);
                }

                if (a is 0 or 1 or -1)
                {
                    return a == 0 ? (b == 0 ? 1L : 0L) : a == 1 || b % 2 == 0 ? 1L : -1L;
                }

                // |a| >= 2 overflows within 63 multiplications, so this loop is short.
                var result = 1L;
                for (var i = 0L; i < b; i++)
                {
                    result = checked(result * a);
                }

                return result;
            default:
                throw new TemplateException($"unknown operator '{op}'");
        }
    }

    private static object Float(string op, double a, double b)
    {
        switch (op)
        {
            case "+": return a + b;
            case "-": return a - b;
            case "*": return a * b;
            case "/": return b == 0 ? throw DivisionByZero() : a / b;
            case "//": return b == 0 ? throw DivisionByZero() : Math.Floor(a / b);
            case "%":
                if (b == 0)
                {
                    throw DivisionByZero();
                }

                var m = a % b;
                return m != 0 && ((m < 0) != (b < 0)) ? m + b : m;
            case "**":
                if (a == 0 && b < 0)
                {
                    throw new TemplateException("0.0 cannot be raised to a negative power");
                }

                return Math.Pow(a, b);
            default:
                throw new TemplateException($"unknown operator '{op}'");
        }
    }

    private static TemplateException DivisionByZero() => new("division by zero");

    private static object Repeat(RenderState state, object sequence, long times)
    {
        times = Math.Max(times, 0);
        switch (sequence)
        {
            case string s:
                state.CheckSize(s.Length * times);
                return string.Concat(Enumerable.Repeat(s, (int)times));
            case List<object?> list:
                state.CheckSize(list.Count * times);
                return Enumerable.Repeat(list, (int)times).SelectMany(x => x).ToList();
            default:
                var tuple = (object?[])sequence;
                state.CheckSize(tuple.Length * times);
                return Enumerable.Repeat(tuple, (int)times).SelectMany(x => x).ToArray();
        }
    }
}
