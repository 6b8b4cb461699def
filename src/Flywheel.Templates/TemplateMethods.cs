namespace Flywheel.Templates;

/// <summary>
/// Methods callable on values: Python str methods (strip, split, startswith, replace, ...), dict
/// items/keys/values/get, and loop.cycle. Methods that would modify a value are refused, as in
/// transformers' immutable sandbox.
/// </summary>
internal static class TemplateMethods
{
    private static readonly HashSet<string> StringMethods =
    [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "replace", "find", "rfind", "count", "join", "removeprefix", "removesuffix",
        "isdigit", "isspace", "isalpha", "isalnum", "islower", "isupper", "format",
    ];

    private static readonly HashSet<string> DictMethods = ["items", "keys", "values", "get"];

    private static readonly HashSet<string> MutatingDictMethods = ["clear", "pop", "popitem", "setdefault", "update"];

    private static readonly HashSet<string> MutatingListMethods =
        ["append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"];

    public static bool IsMethod(object? target, string name) => target switch
    {
        string => StringMethods.Contains(name),
        OrderedDictionary<string, object?> => DictMethods.Contains(name),
        _ => false,
    };

    public static bool IsMutating(object? target, string name) => target switch
    {
        OrderedDictionary<string, object?> => MutatingDictMethods.Contains(name),
        List<object?> => MutatingListMethods.Contains(name),
        _ => false,
    };

    public static object? Invoke(RenderState state, object target, string name, CallArguments args) => target switch
    {
        string s => InvokeString(state, s, name, args),
        OrderedDictionary<string, object?> dict => InvokeDict(dict, name, args),
        LoopContext loop when name == "cycle" => loop.Cycle(args),
        _ => throw new TemplateException($"'{PyValues.TypeName(target)}' object has no method '{name}'"),
    };

    private static object? InvokeDict(OrderedDictionary<string, object?> dict, string name, CallArguments args)
    {
        switch (name)
        {
            case "items":
                args.Check("dict.items()", 0);
                return dict.Select(e => (object?)new object?[] { e.Key, e.Value }).ToList();
            case "keys":
                args.Check("dict.keys()", 0);
                return dict.Keys.Select(k => (object?)k).ToList();
            case "values":
                args.Check("dict.values()", 0);
                return dict.Values.ToList();
            default:
                args.Check("dict.get()", 2);
                if (args.Positional.Count == 0)
                {
                    throw new TemplateException("dict.get() needs a key");
                }

                return args.Positional[0] is string key && dict.TryGetValue(key, out var value)
                    ? value
                    : args.Get(1, "default", null);
        }
    }

    private static object? InvokeString(RenderState state, string s, string name, CallArguments args)
    {
        switch (name)
        {
            case "strip" or "lstrip" or "rstrip":
                args.Check($"str.{name}()", 1);
                var chars = OptionalString(args.Get(0, "chars", null), name);
                return PyText.Strip(s, chars, left: name != "rstrip", right: name != "lstrip");
            case "split" or "rsplit":
                args.Check($"str.{name}()", 2, "sep", "maxsplit");
                var sep = OptionalString(args.Get(0, "sep", null), name);
                var maxSplit = Integer(args.Get(1, "maxsplit", -1L), name);
                var parts = name == "rsplit" && sep is not null ? PyText.RSplit(s, sep, maxSplit) : PyText.Split(s, sep, maxSplit);
                return parts.Select(p => (object?)p).ToList();
            case "splitlines":
                args.Check("str.splitlines()", 0);
                return PyText.SplitLines(s).Select(p => (object?)p).ToList();
            case "startswith" or "endswith":
                args.Check($"str.{name}()", 1);
                return Affixes(args.Get(0, "prefix", Undefined.Instance), name)
                    .Any(a => name == "startswith" ? s.StartsWith(a, StringComparison.Ordinal) : s.EndsWith(a, StringComparison.Ordinal));
            case "upper": args.Check("str.upper()", 0); return PyText.ToUpper(s);
            case "lower": args.Check("str.lower()", 0); return PyText.ToLower(s);
            case "title": args.Check("str.title()", 0); return PyText.Title(s);
            case "capitalize": args.Check("str.capitalize()", 0); return PyText.Capitalize(s);
            case "replace":
                args.Check("str.replace()", 3, "count");
                var result = PyText.Replace(s, RequiredString(args, 0, "old", name), RequiredString(args, 1, "new", name),
                    Integer(args.Get(2, "count", -1L), name));
                state.CheckSize(result.Length);
                return result;
            case "find" or "rfind" or "count":
                args.Check($"str.{name}()", 1);
                var sub = RequiredString(args, 0, "sub", name);
                return name switch
                {
                    "find" => (long)s.IndexOf(sub, StringComparison.Ordinal),
                    "rfind" => (long)s.LastIndexOf(sub, StringComparison.Ordinal),
                    _ => sub.Length == 0 ? PyText.Length(s) + 1L : (long)PyText.Split(s, sub, -1).Count - 1,
                };
            case "join":
                args.Check("str.join()", 1);
                var items = TemplateInterpreter.Iterate(args.Get(0, "iterable", Undefined.Instance));
                var joined = string.Join(s, items.Select(i => i as string ??
                    throw new TemplateException($"str.join(): expected str items, found {PyValues.TypeName(i)}")));
                state.CheckSize(joined.Length);
                return joined;
            case "removeprefix":
                args.Check("str.removeprefix()", 1);
                var prefix = RequiredString(args, 0, "prefix", name);
                return s.StartsWith(prefix, StringComparison.Ordinal) ? s[prefix.Length..] : s;
            case "removesuffix":
                args.Check("str.removesuffix()", 1);
                var suffix = RequiredString(args, 0, "suffix", name);
                return suffix.Length > 0 && s.EndsWith(suffix, StringComparison.Ordinal) ? s[..^suffix.Length] : s;
            case "isdigit": return s.Length > 0 && s.All(char.IsDigit);
            case "isspace": return s.Length > 0 && s.All(PyText.IsWhitespace);
            case "isalpha": return s.Length > 0 && s.All(char.IsLetter);
            case "isalnum": return s.Length > 0 && s.All(char.IsLetterOrDigit);
            case "islower": return PyText.IsAllCased(s, upper: false);
            case "isupper": return PyText.IsAllCased(s, upper: true);
            default:
                throw new TemplateException($"str.{name}() is not supported in templates");
        }
    }

    private static IEnumerable<string> Affixes(object? value, string method) => value switch
    {
        string a => [a],
        IList<object?> list => list.Select(x => x as string ??
            throw new TemplateException($"str.{method}(): tuple items must be str, not {PyValues.TypeName(x)}")),
        _ => throw new TemplateException($"str.{method}() argument must be str or a tuple of str, not {PyValues.TypeName(value)}"),
    };

    private static string? OptionalString(object? value, string method) => value switch
    {
        null or Undefined => null,
        string s => s,
        _ => throw new TemplateException($"str.{method}() argument must be str or None, not {PyValues.TypeName(value)}"),
    };

    private static string RequiredString(CallArguments args, int index, string name, string method) =>
        args.Get(index, name, Undefined.Instance) as string ??
        throw new TemplateException($"str.{method}() argument '{name}' must be str");

    private static long Integer(object? value, string method) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"str.{method}(): expected an integer, got {PyValues.TypeName(value)}"),
    };
}
