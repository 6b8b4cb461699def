using System.Globalization;
using System.Text;

namespace Flywheel.Templates;

/// <summary>
/// Global functions every template sees: Jinja's range, namespace and dict, and transformers'
/// raise_exception(message) and strftime_now(format).
/// </summary>
internal static class TemplateGlobals
{
    // Jinja's sandbox caps range() at this many items.
    private const long MaxRange = 100_000;

    private static readonly Dictionary<string, object> Functions = new(StringComparer.Ordinal)
    {
        ["raise_exception"] = new BuiltinFunction("raise_exception", RaiseException),
        ["range"] = new BuiltinFunction("range", Range),
        ["namespace"] = new BuiltinFunction("namespace", CreateNamespace),
        ["dict"] = new BuiltinFunction("dict", CreateDict),
        ["strftime_now"] = new BuiltinFunction("strftime_now", StrftimeNow),
    };

    public static bool TryGet(string name, out object? value)
    {
        var found = Functions.TryGetValue(name, out var function);
        value = function;
        return found;
    }

    private static object? RaiseException(RenderState state, CallArguments args) =>
        throw TemplateException.Raised(PyValues.Str(args.Get(0, "message", "")), null, null);

    private static object? Range(RenderState state, CallArguments args)
    {
        args.Check("range()", 3);
        var numbers = args.Positional.Select(p => p is long or bool ? (p is bool b ? (b ? 1L : 0L) : (long)p)
            : throw new TemplateException($"range() arguments must be integers, not '{PyValues.TypeName(p)}'")).ToArray();
        var (start, stop, step) = numbers.Length switch
        {
            1 => (0L, numbers[0], 1L),
            2 => (numbers[0], numbers[1], 1L),
            3 => (numbers[0], numbers[1], numbers[2]),
            _ => throw new TemplateException("range() needs 1 to 3 arguments"),
        };
        if (step == 0)
        {
            throw new TemplateException("range() arg 3 must not be zero");
        }

        var count = step > 0 ? (stop > start ? ((stop - start - 1) / step) + 1 : 0) : (start > stop ? ((start - stop - 1) / -step) + 1 : 0);
        if (count > MaxRange)
        {
            throw new TemplateException($"range() of {count} items is too big (limit {MaxRange})");
        }

        var result = new List<object?>((int)count);
        for (var i = 0L; i < count; i++)
        {
            result.Add(start + (i * step));
        }

        return result;
    }

    private static object? CreateNamespace(RenderState state, CallArguments args)
    {
        var ns = new Namespace();
        foreach (var source in args.Positional)
        {
            if (source is not OrderedDictionary<string, object?> initial)
            {
                throw new TemplateException("namespace() takes a mapping and/or keyword arguments");
            }

            foreach (var (k, v) in initial)
            {
                ns.Attributes[k] = v;
            }
        }

        foreach (var (k, v) in args.Keywords)
        {
            ns.Attributes[k] = v;
        }

        return ns;
    }

    private static object? CreateDict(RenderState state, CallArguments args)
    {
        var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var source in args.Positional)
        {
            if (source is not OrderedDictionary<string, object?> initial)
            {
                throw new TemplateException("dict() takes a mapping and/or keyword arguments");
            }

            foreach (var (k, v) in initial)
            {
                dict[k] = v;
            }
        }

        foreach (var (k, v) in args.Keywords)
        {
            dict[k] = v;
        }

        return dict;
    }

    /// <summary>Python <c>datetime.now().strftime(format)</c> in local time, English names (the C locale).</summary>
    private static object? StrftimeNow(RenderState state, CallArguments args)
    {
        if (args.Get(0, "format", null) is not string format)
        {
            throw new TemplateException("strftime_now() needs a format string");
        }

        return Strftime(state.Time.GetLocalNow().DateTime, format);
    }

    internal static string Strftime(DateTime now, string format)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                sb.Append(format[i]);
                continue;
            }

            // glibc's "%-d" style drops the zero padding.
            var noPad = format[i + 1] == '-' && i + 2 < format.Length;
            var code = noPad ? format[i + 2] : format[i + 1];
            string Pad(int value, string pattern) => noPad ? value.ToString(c) : value.ToString(pattern, c);
            string? text = code switch
            {
                'Y' => now.Year.ToString(c),
                'y' => Pad(now.Year % 100, "00"),
                'm' => Pad(now.Month, "00"),
                'd' => Pad(now.Day, "00"),
                'e' => now.Day.ToString(c).PadLeft(2),
                'H' => Pad(now.Hour, "00"),
                'I' => Pad(((now.Hour + 11) % 12) + 1, "00"),
                'M' => Pad(now.Minute, "00"),
                'S' => Pad(now.Second, "00"),
                'p' => now.Hour < 12 ? "AM" : "PM",
                'j' => Pad(now.DayOfYear, "000"),
                'a' => now.ToString("ddd", c),
                'A' => now.ToString("dddd", c),
                'b' or 'h' => now.ToString("MMM", c),
                'B' => now.ToString("MMMM", c),
                'F' => now.ToString("yyyy-MM-dd", c),
                'T' => now.ToString("HH:mm:ss", c),
                '%' => "%",
                _ => null,
            };
            if (text is null)
            {
                sb.Append(format[i]);
                continue;
            }

            sb.Append(text);
            i += noPad ? 2 : 1;
        }

        return sb.ToString();
    }
}
