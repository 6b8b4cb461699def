using System.Globalization;
using System.Text;

namespace Flywheel.Templates;

/// <summary>
/// Jinja's built-in filters that chat templates use, with Jinja 3.1 semantics, and transformers'
/// <c>tojson</c>. An unknown filter name is a syntax error when the template is parsed.
/// </summary>
internal static partial class TemplateFilters
{
    private delegate object? Filter(TemplateInterpreter interpreter, object? value, CallArguments args);

    private static readonly Dictionary<string, Filter> Filters = new(StringComparer.Ordinal)
    {
        ["abs"] = Abs,
        ["capitalize"] = (_, v, a) => Text(v, a, "capitalize", PyText.Capitalize),
        ["count"] = Length,
        ["default"] = Default,
        ["d"] = Default,
        ["dictsort"] = DictSort,
        ["e"] = Escape,
        ["escape"] = Escape,
        ["first"] = First,
        ["float"] = ToFloat,
        ["indent"] = Indent,
        ["int"] = ToInt,
        ["items"] = Items,
        ["join"] = Join,
        ["last"] = Last,
        ["length"] = Length,
        ["list"] = (_, v, a) => NoArguments(a, "list", () => TemplateInterpreter.Iterate(v)),
        ["lower"] = (_, v, a) => Text(v, a, "lower", PyText.ToLower),
        ["map"] = Map,
        ["max"] = (i, v, a) => Extreme(v, a, "max"),
        ["min"] = (i, v, a) => Extreme(v, a, "min"),
        ["reject"] = (i, v, a) => Select(i, v, a, byAttribute: false, keep: false),
        ["rejectattr"] = (i, v, a) => Select(i, v, a, byAttribute: true, keep: false),
        ["replace"] = Replace,
        ["reverse"] = Reverse,
        ["round"] = Round,
        ["safe"] = (_, v, a) => NoArguments(a, "safe", () => PyValues.Str(v)),
        ["select"] = (i, v, a) => Select(i, v, a, byAttribute: false, keep: true),
        ["selectattr"] = (i, v, a) => Select(i, v, a, byAttribute: true, keep: true),
        ["sort"] = Sort,
        ["sum"] = Sum,
        ["string"] = (_, v, a) => NoArguments(a, "string", () => PyValues.Str(v)),
        ["title"] = (_, v, a) => Text(v, a, "title", JinjaTitle),
        ["tojson"] = ToJson,
        ["trim"] = Trim,
        ["unique"] = Unique,
        ["upper"] = (_, v, a) => Text(v, a, "upper", PyText.ToUpper),
    };

    public static bool Exists(string name) => Filters.ContainsKey(name);

    public static IEnumerable<string> Names => Filters.Keys.Order(StringComparer.Ordinal);

    public static object? Apply(TemplateInterpreter interpreter, string name, object? value, CallArguments args) =>
        Filters.TryGetValue(name, out var filter)
            ? filter(interpreter, value, args)
            : throw new TemplateException($"unknown filter '{name}'");

    private static object? NoArguments(CallArguments args, string name, Func<object?> body)
    {
        args.Check($"filter '{name}'", 0);
        return body();
    }

    private static string Text(object? value, CallArguments args, string name, Func<string, string> transform)
    {
        args.Check($"filter '{name}'", 0);
        return transform(PyValues.Str(value));
    }

    // Jinja's title filter: words start after whitespace, '-', '(', '{', '[' or '<'.
    private static string JinjaTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        var wordStart = true;
        foreach (var c in s)
        {
            sb.Append(wordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            wordStart = PyText.IsWhitespace(c) || c is '-' or '(' or '{' or '[' or '<';
        }

        return sb.ToString();
    }

    private static object? Trim(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'trim'", 1, "chars");
        var chars = args.Get(0, "chars", null);
        return PyText.Strip(PyValues.Str(value), chars is string c ? c : null, left: true, right: true);
    }

    private static object? Replace(TemplateInterpreter interpreter, object? value, CallArguments args)
    {
        args.Check("filter 'replace'", 3, "old", "new", "count");
        if (args.Get(0, "old", null) is not string old || args.Get(1, "new", null) is not string replacement)
        {
            throw new TemplateException("filter 'replace' needs two strings: old and new");
        }

        var count = args.Get(2, "count", null) is long n ? n : -1;
        var result = PyText.Replace(PyValues.Str(value), old, replacement, count);
        interpreter.State.CheckSize(result.Length);
        return result;
    }

    private static object? Default(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'default'", 2, "default_value", "boolean");
        var fallback = args.Get(0, "default_value", "");
        var boolean = PyValues.IsTruthy(args.Get(1, "boolean", false));
        return value is Undefined || (boolean && !PyValues.IsTruthy(value)) ? fallback : value;
    }

    private static object? Length(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'length'", 0);
        return value switch
        {
            string s => (long)PyText.Length(s),
            IList<object?> list => (long)list.Count,
            OrderedDictionary<string, object?> dict => (long)dict.Count,
            Undefined => 0L,
            _ => throw new TemplateException($"object of type '{PyValues.TypeName(value)}' has no len()"),
        };
    }

    private static object? First(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'first'", 0);
        var items = TemplateInterpreter.Iterate(value);
        return items.Count > 0 ? items[0] : new Undefined("no first item, sequence was empty");
    }

    private static object? Last(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'last'", 0);
        var items = TemplateInterpreter.Iterate(value);
        return items.Count > 0 ? items[^1] : new Undefined("no last item, sequence was empty");
    }

    private static object? Items(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'items'", 0);
        return value switch
        {
            OrderedDictionary<string, object?> dict => dict.Select(e => (object?)new object?[] { e.Key, e.Value }).ToList(),
            Undefined => new List<object?>(),
            _ => throw new TemplateException($"filter 'items' can only be used on a mapping, not '{PyValues.TypeName(value)}'"),
        };
    }

    private static object? Join(TemplateInterpreter interpreter, object? value, CallArguments args)
    {
        args.Check("filter 'join'", 2, "d", "attribute");
        var separator = PyValues.Str(args.Get(0, "d", ""));
        var attribute = args.Get(1, "attribute", null);
        var items = TemplateInterpreter.Iterate(value).Select(item => attribute is null ? item : GetPath(item, attribute));
        var joined = string.Join(separator, items.Select(PyValues.Str));
        interpreter.State.CheckSize(joined.Length);
        return joined;
    }

    private static object? Reverse(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'reverse'", 0);
        var items = TemplateInterpreter.Iterate(value);
        items.Reverse();
        return value is string ? string.Concat(items.Cast<string>()) : items;
    }

    private static object? Escape(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'escape'", 0);
        return PyValues.Str(value).Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
            .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&#34;", StringComparison.Ordinal)
            .Replace("'", "&#39;", StringComparison.Ordinal);
    }

    private static object? Indent(TemplateInterpreter interpreter, object? value, CallArguments args)
    {
        args.Check("filter 'indent'", 3, "width", "first", "blank");
        var width = args.Get(0, "width", 4L);
        var indentation = width switch
        {
            string s => s,
            long n => new string(' ', (int)Math.Clamp(n, 0, 1024)),
            _ => throw new TemplateException("filter 'indent': width must be an integer or a string"),
        };
        var first = PyValues.IsTruthy(args.Get(1, "first", false));
        var blank = PyValues.IsTruthy(args.Get(2, "blank", false));

        // As Jinja does: append a newline, split into lines, indent all lines but the first (and, unless
        // blank=True, the empty ones), join with "\n".
        var lines = PyText.SplitLines(PyValues.Str(value) + "\n");
        var sb = new StringBuilder(lines.Count > 0 ? lines[0] : "");
        for (var i = 1; i < lines.Count; i++)
        {
            sb.Append('\n');
            if (blank || lines[i].Length > 0)
            {
                sb.Append(indentation);
            }

            sb.Append(lines[i]);
        }

        var result = (first ? indentation : "") + sb;
        interpreter.State.CheckSize(result.Length);
        return result;
    }

    private static object? ToJson(TemplateInterpreter _, object? value, CallArguments args)
    {
        // transformers' signature: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
        args.Check("filter 'tojson'", 4, "ensure_ascii", "indent", "separators", "sort_keys");
        var ensureAscii = PyValues.IsTruthy(args.Get(0, "ensure_ascii", false));
        var indent = args.Get(1, "indent", null) switch
        {
            null => null,
            long n => new string(' ', (int)Math.Clamp(n, 0, 1024)),
            string s => s,
            var other => throw new TemplateException($"tojson: indent must be an integer or a string, not {PyValues.TypeName(other)}"),
        };
        (string, string)? separators = args.Get(2, "separators", null) switch
        {
            null => null,
            IList<object?> { Count: 2 } pair when pair[0] is string item && pair[1] is string key => (item, key),
            _ => throw new TemplateException("tojson: separators must be a pair of strings"),
        };
        var sortKeys = PyValues.IsTruthy(args.Get(3, "sort_keys", false));
        return PyJson.Dumps(value, indent, separators, sortKeys, ensureAscii);
    }

    private static object? Abs(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'abs'", 0);
        return value switch
        {
            long l => (object)checked(Math.Abs(l)),
            double d => Math.Abs(d),
            bool b => b ? 1L : 0L,
            _ => throw new TemplateException($"bad operand type for abs(): '{PyValues.TypeName(value)}'"),
        };
    }

    private static object? ToInt(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'int'", 2, "default", "base");
        var fallback = args.Get(0, "default", 0L);
        var numberBase = args.Get(1, "base", 10L) is long b ? (int)b : 10;
        switch (value)
        {
            case long or bool:
                return value is bool flag ? (flag ? 1L : 0L) : value;
            case double d:
                return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)Math.Truncate(d) : fallback;
            case string s:
                var text = s.Trim().Replace("_", "", StringComparison.Ordinal);
                if (numberBase == 10 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }

                if (numberBase != 10)
                {
                    try
                    {
                        return Convert.ToInt64(text, numberBase);
                    }
                    catch (Exception e) when (e is FormatException or ArgumentException or OverflowException)
                    {
                        return fallback;
                    }
                }

                return ParseFloat(s) is { } f && double.IsFinite(f) && Math.Abs(f) < 9.2e18 ? (long)Math.Truncate(f) : fallback;
            default:
                return fallback;
        }
    }

    private static object? ToFloat(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'float'", 1, "default");
        var fallback = args.Get(0, "default", 0.0);
        return value switch
        {
            double d => d,
            long l => (double)l,
            bool b => b ? 1.0 : 0.0,
            string s => ParseFloat(s) ?? fallback,
            _ => fallback,
        };
    }

    /// <summary>Python <c>float(str)</c>: surrounding whitespace, underscores between digits, inf and nan.</summary>
    private static double? ParseFloat(string s)
    {
        var text = s.Trim().Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
        var unsigned = text.TrimStart('+', '-');
        if (unsigned is "inf" or "infinity" or "nan")
        {
            var special = unsigned == "nan" ? double.NaN : double.PositiveInfinity;
            return text.StartsWith('-') ? -special : special;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    private static object? Round(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'round'", 2, "precision", "method");
        var precision = args.Get(0, "precision", 0L) is long p ? (int)Math.Clamp(p, -300, 300) : 0;
        var method = args.Get(1, "method", "common") as string;
        if (!PyValues.IsNumber(value))
        {
            throw new TemplateException($"filter 'round' needs a number, not '{PyValues.TypeName(value)}'");
        }

        if (method == "common" && value is long or bool)
        {
            return value is bool b ? (b ? 1L : 0L) : value;
        }

        var d = PyValues.ToDouble(value);
        var scale = Math.Pow(10, precision);
        return method switch
        {
            "common" => PyRound(d, precision),
            "ceil" => Math.Ceiling(d * scale) / scale,
            "floor" => Math.Floor(d * scale) / scale,
            _ => throw new TemplateException("filter 'round': method must be 'common', 'ceil' or 'floor'"),
        };
    }

    /// <summary>
    /// Python's <c>round(x, n)</c>: rounds the exact binary value half-to-even, so round(2.675, 2) is 2.67
    /// (2.675 is stored as 2.67499999...), which Math.Round's decimal scaling gets wrong.
    /// </summary>
    private static double PyRound(double value, int digits)
    {
        if (!double.IsFinite(value) || value == 0 || digits > 330)
        {
            return value;
        }

        var bits = BitConverter.DoubleToInt64Bits(value);
        var exponent = (int)((bits >> 52) & 0x7FF);
        var mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0)
        {
            exponent = 1;
        }
        else
        {
            mantissa |= 1L << 52;
        }

        exponent -= 1075;

        // |value| * 10^digits as the exact fraction numerator / denominator.
        var numerator = new System.Numerics.BigInteger(mantissa);
        var denominator = System.Numerics.BigInteger.One;
        if (exponent >= 0)
        {
            numerator <<= exponent;
        }
        else
        {
            denominator <<= -exponent;
        }

        if (digits >= 0)
        {
            numerator *= System.Numerics.BigInteger.Pow(10, digits);
        }
        else
        {
            denominator *= System.Numerics.BigInteger.Pow(10, -digits);
        }

        var quotient = System.Numerics.BigInteger.DivRem(numerator, denominator, out var remainder);
        var twice = remainder * 2;
        if (twice > denominator || (twice == denominator && !quotient.IsEven))
        {
            quotient += 1;
        }

        var rounded = double.Parse($"{quotient}E{-digits}", NumberStyles.Float, CultureInfo.InvariantCulture);
        return value < 0 ? -rounded : rounded;
    }
}
