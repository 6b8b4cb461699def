namespace Flywheel.Templates;

/// <summary>
/// Jinja's tests (<c>x is defined</c>, <c>x is string</c>, ...) with Python semantics: booleans count as
/// numbers but not as integers, strings/lists/dicts are iterable and sequences. An unknown test name is a
/// syntax error when the template is parsed.
/// </summary>
internal static class TemplateTests
{
    private delegate bool Test(TemplateInterpreter interpreter, object? value, CallArguments args);

    private static readonly Dictionary<string, Test> Tests = new(StringComparer.Ordinal)
    {
        ["defined"] = (_, v, _) => v is not Undefined,
        ["undefined"] = (_, v, _) => v is Undefined,
        ["none"] = (_, v, _) => v is null,
        ["true"] = (_, v, _) => v is true,
        ["false"] = (_, v, _) => v is false,
        ["boolean"] = (_, v, _) => v is bool,
        ["string"] = (_, v, _) => v is string,
        ["number"] = (_, v, _) => v is long or double or bool,
        ["integer"] = (_, v, _) => v is long,
        ["float"] = (_, v, _) => v is double,
        ["mapping"] = (_, v, _) => v is OrderedDictionary<string, object?>,
        ["iterable"] = (_, v, _) => v is string or IList<object?> or OrderedDictionary<string, object?> or Undefined,
        ["sequence"] = (_, v, _) => v is string or IList<object?> or OrderedDictionary<string, object?>,
        ["callable"] = (_, v, _) => v is Macro or BuiltinFunction or BoundMethod,
        ["lower"] = (_, v, _) => PyValues.Str(v) is var s && PyText.IsAllCased(s, upper: false),
        ["upper"] = (_, v, _) => PyValues.Str(v) is var s && PyText.IsAllCased(s, upper: true),
        ["odd"] = (_, v, _) => Integer(v, "odd") % 2 != 0,
        ["even"] = (_, v, _) => Integer(v, "even") % 2 == 0,
        ["divisibleby"] = (_, v, a) => Integer(a.Get(0, "num", Undefined.Instance), "divisibleby") is var n && n != 0
            ? Integer(v, "divisibleby") % n == 0
            : throw new TemplateException("divisibleby 0"),
        ["eq"] = Comparison("=="),
        ["equalto"] = Comparison("=="),
        ["=="] = Comparison("=="),
        ["ne"] = Comparison("!="),
        ["!="] = Comparison("!="),
        ["lt"] = Comparison("<"),
        ["lessthan"] = Comparison("<"),
        ["le"] = Comparison("<="),
        ["gt"] = Comparison(">"),
        ["greaterthan"] = Comparison(">"),
        ["ge"] = Comparison(">="),
        ["in"] = (_, v, a) => TemplateOperators.Contains(Argument(a, "in"), v),
        ["sameas"] = (_, v, a) => Argument(a, "sameas") is var other &&
            (ReferenceEquals(v, other) || (v is null && other is null) || (v is bool x && other is bool y && x == y)),
        ["escaped"] = (_, _, _) => false,
    };

    public static bool Exists(string name) => Tests.ContainsKey(name);

    public static IEnumerable<string> Names => Tests.Keys.Order(StringComparer.Ordinal);

    public static bool Run(TemplateInterpreter interpreter, string name, object? value, CallArguments args) =>
        Tests.TryGetValue(name, out var test)
            ? test(interpreter, value, args)
            : throw new TemplateException($"unknown test '{name}'");

    private static Test Comparison(string op) => (_, v, a) => TemplateOperators.Compare(op, v, Argument(a, op));

    private static object? Argument(CallArguments args, string test) =>
        args.Positional.Count == 1 && args.Keywords.Count == 0
            ? args.Positional[0]
            : throw new TemplateException($"test '{test}' takes exactly one argument");

    private static long Integer(object? value, string test) => value switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"test '{test}' needs an integer, not '{PyValues.TypeName(value)}'"),
    };
}
