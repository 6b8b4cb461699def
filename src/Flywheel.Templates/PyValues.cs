using System.Collections;
using System.Globalization;
using System.Text;

namespace Flywheel.Templates;

/// <summary>Python semantics of values: str(), repr(), truth, equality, ordering and type names.</summary>
internal static class PyValues
{
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        object?[] => "tuple",
        OrderedDictionary<string, object?> => "dict",
        Namespace => "Namespace",
        Macro => "Macro",
        LoopContext => "LoopContext",
        BuiltinFunction or BoundMethod => "builtin_function_or_method",
        _ => value.GetType().Name,
    };

    public static bool IsTruthy(object? value) => value switch
    {
        null or Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException("not a number"),
    };

    /// <summary>Python <c>str(value)</c>, except that undefined renders as "" (Jinja).</summary>
    public static string Str(object? value) => value switch
    {
        string s => s,
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        Namespace ns => "<Namespace " + Repr(ns.Attributes) + ">",
        Macro m => $"<Macro '{m.Definition.Name}'>",
        LoopContext loop => $"<LoopContext {loop.Index0 + 1}/{loop.Length}>",
        BuiltinFunction f => $"<built-in function {f.Name}>",
        BoundMethod m => $"<built-in method {m.Name} of {TypeName(m.Target)} object>",
        _ => Repr(value),
    };

    public static string Repr(object? value)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, value, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? value, int depth)
    {
        if (depth > 100)
        {
            throw new TemplateException("value nested too deeply to convert to a string");
        }

        switch (value)
        {
            case string s:
                AppendStringRepr(sb, s);
                break;
            case List<object?> list:
                sb.Append('[');
                AppendItems(sb, list, depth);
                sb.Append(']');
                break;
            case object?[] tuple:
                sb.Append('(');
                AppendItems(sb, tuple, depth);
                sb.Append(tuple.Length == 1 ? ",)" : ")");
                break;
            case OrderedDictionary<string, object?> dict:
                sb.Append('{');
                var first = true;
                foreach (var (k, v) in dict)
                {
                    sb.Append(first ? "" : ", ");
                    first = false;
                    AppendStringRepr(sb, k);
                    sb.Append(": ");
                    AppendRepr(sb, v, depth + 1);
                }

                sb.Append('}');
                break;
            case Undefined:
                sb.Append("Undefined");
                break;
            default:
                sb.Append(Str(value));
                break;
        }
    }

    private static void AppendItems(StringBuilder sb, IList<object?> items, int depth)
    {
        for (var i = 0; i < items.Count; i++)
        {
            sb.Append(i == 0 ? "" : ", ");
            AppendRepr(sb, items[i], depth + 1);
        }
    }

    /// <summary>Python's repr of a str: single quotes unless the text has ' and no ".</summary>
    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == quote || c == '\\')
            {
                sb.Append('\\').Append(c);
                continue;
            }

            switch (c)
            {
                case '\n': sb.Append("\\n"); continue;
                case '\r': sb.Append("\\r"); continue;
                case '\t': sb.Append("\\t"); continue;
            }

            int codePoint = c;
            if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                codePoint = char.ConvertToUtf32(c, s[i + 1]);
            }

            if (IsPrintable(codePoint, c))
            {
                sb.Append(c);
                if (codePoint >= 0x10000)
                {
                    sb.Append(s[i + 1]);
                }
            }
            else
            {
                sb.Append(codePoint < 0x100 ? $"\\x{codePoint:x2}" : codePoint < 0x10000 ? $"\\u{codePoint:x4}" : $"\\U{codePoint:x8}");
            }

            if (codePoint >= 0x10000)
            {
                i++;
            }
        }

        sb.Append(quote);
    }

    private static bool IsPrintable(int codePoint, char c)
    {
        if (codePoint == ' ')
        {
            return true;
        }

        var category = codePoint >= 0x10000
            ? CharUnicodeInfo.GetUnicodeCategory(codePoint)
            : CharUnicodeInfo.GetUnicodeCategory(c);
        return category is not (UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate
            or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator
            or UnicodeCategory.ParagraphSeparator or UnicodeCategory.SpaceSeparator);
    }

    /// <summary>Python <c>repr(float)</c>: shortest round-trip digits, "1.0", "1e+16", "1.5e-07", "inf", "nan".</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d))
        {
            return "nan";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "inf" : "-inf";
        }

        if (d == 0)
        {
            return double.IsNegative(d) ? "-0.0" : "0.0";
        }

        var (digits, pointPosition) = ShortestDigits(Math.Abs(d));
        var sign = d < 0 ? "-" : "";
        var exponent = pointPosition - 1;
        if (exponent is >= -4 and < 16)
        {
            if (pointPosition <= 0)
            {
                return sign + "0." + new string('0', -pointPosition) + digits;
            }

            return pointPosition >= digits.Length
                ? sign + digits + new string('0', pointPosition - digits.Length) + ".0"
                : sign + digits[..pointPosition] + "." + digits[pointPosition..];
        }

        var mantissa = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
        return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + Math.Abs(exponent).ToString("00", CultureInfo.InvariantCulture);
    }

    /// <summary>Significant digits (no leading/trailing zeros) and where the decimal point goes: 0.DIGITS x 10^point.</summary>
    private static (string Digits, int PointPosition) ShortestDigits(double positive)
    {
        var text = positive.ToString("R", CultureInfo.InvariantCulture);
        var exponent = 0;
        var e = text.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponent = int.Parse(text.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            text = text[..e];
        }

        var dot = text.IndexOf('.');
        var point = dot >= 0 ? dot : text.Length;
        var digits = text.Replace(".", "", StringComparison.Ordinal);
        var leadingZeros = 0;
        while (leadingZeros < digits.Length - 1 && digits[leadingZeros] == '0')
        {
            leadingZeros++;
        }

        digits = digits[leadingZeros..].TrimEnd('0');
        return (digits, point - leadingZeros + exponent);
    }

    /// <summary>Python <c>==</c>.</summary>
    public static bool AreEqual(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return a is long la && b is long lb ? la == lb : ToDouble(a) == ToDouble(b);
        }

        switch (a)
        {
            case null: return b is null;
            case string sa: return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
            case Undefined: return b is Undefined;
            case List<object?> la when b is List<object?> lb: return SequenceEqual(la, lb);
            case object?[] ta when b is object?[] tb: return SequenceEqual(ta, tb);
            case OrderedDictionary<string, object?> da when b is OrderedDictionary<string, object?> db:
                if (da.Count != db.Count)
                {
                    return false;
                }

                foreach (var (k, v) in da)
                {
                    if (!db.TryGetValue(k, out var other) || !AreEqual(v, other))
                    {
                        return false;
                    }
                }

                return true;
            default: return ReferenceEquals(a, b);
        }
    }

    private static bool SequenceEqual(IList<object?> a, IList<object?> b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (var i = 0; i < a.Count; i++)
        {
            if (!AreEqual(a[i], b[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Python ordering for &lt; &lt;= &gt; &gt;=: numbers, strings, and lists/tuples of those.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return a is long la && b is long lb ? la.CompareTo(lb) : ToDouble(a).CompareTo(ToDouble(b));
        }

        if (a is string sa && b is string sb)
        {
            return Math.Sign(string.CompareOrdinal(sa, sb));
        }

        if ((a is List<object?> && b is List<object?>) || (a is object?[] && b is object?[]))
        {
            var x = (IList<object?>)a;
            var y = (IList<object?>)b;
            for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
            {
                if (!AreEqual(x[i], y[i]))
                {
                    return Compare(x[i], y[i], op);
                }
            }

            return x.Count.CompareTo(y.Count);
        }

        throw new TemplateException($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }
}
