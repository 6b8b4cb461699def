namespace Flywheel.Templates;

// Runtime values. Python types map onto CLR ones:
//   None -> null, bool -> bool, int -> long, float -> double, str -> string,
//   list -> List<object?>, tuple -> object?[], dict -> OrderedDictionary<string, object?> (insertion order,
//   string keys), plus the Jinja objects below.

/// <summary>
/// Jinja's default Undefined: falsy, renders as "", iterates as empty, has length 0. Attribute and item
/// access on it give undefined again (lenient, as transformers.js does; Python Jinja would raise);
/// calling it or doing arithmetic with it is an error naming what was undefined.
/// </summary>
internal sealed class Undefined
{
    public static readonly Undefined Instance = new(null);

    public Undefined(string? hint) => Hint = hint;

    /// <summary>Why the value is undefined, e.g. "'foo' is undefined", for error messages.</summary>
    public string? Hint { get; }

    public static Undefined Named(string name) => new($"'{name}' is undefined");

    public string Describe() => Hint ?? "value is undefined";
}

/// <summary><c>namespace(...)</c>: the one mutable object templates get, via <c>{% set ns.x = ... %}</c>.</summary>
internal sealed class Namespace
{
    public OrderedDictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A macro defined with <c>{% macro %}</c>, closed over the scope it was defined in.</summary>
internal sealed class Macro(MacroStmt definition, Scope closure)
{
    public MacroStmt Definition { get; } = definition;

    public Scope Closure { get; } = closure;
}

/// <summary>Arguments of a call after evaluation.</summary>
internal readonly record struct CallArguments(List<object?> Positional, List<(string Name, object? Value)> Keywords)
{
    public int Count => Positional.Count + Keywords.Count;

    /// <summary>The argument at <paramref name="index"/> or named <paramref name="name"/>, else <paramref name="fallback"/>.</summary>
    public object? Get(int index, string name, object? fallback)
    {
        if (index >= 0 && index < Positional.Count)
        {
            return Positional[index];
        }

        foreach (var (n, v) in Keywords)
        {
            if (n == name)
            {
                return v;
            }
        }

        return fallback;
    }

    public bool Has(int index, string name) => (index >= 0 && index < Positional.Count) || Keywords.Exists(k => k.Name == name);

    /// <summary>Rejects more positional arguments than <paramref name="max"/> and keywords not in <paramref name="allowed"/>.</summary>
    public void Check(string function, int max, params string[] allowed)
    {
        if (Positional.Count > max)
        {
            throw new TemplateException($"{function} takes at most {max} positional argument(s), got {Positional.Count}");
        }

        foreach (var (n, _) in Keywords)
        {
            if (Array.IndexOf(allowed, n) < 0)
            {
                throw new TemplateException($"{function} got an unexpected keyword argument '{n}'");
            }
        }
    }
}

/// <summary>A global function such as <c>range</c> or <c>raise_exception</c>.</summary>
internal sealed class BuiltinFunction(string name, Func<RenderState, CallArguments, object?> invoke)
{
    public string Name { get; } = name;

    public object? Invoke(RenderState state, CallArguments arguments) => invoke(state, arguments);
}

/// <summary>A method looked up on a value (<c>text.strip</c>), called later with arguments.</summary>
internal sealed class BoundMethod(object target, string name)
{
    public object Target { get; } = target;

    public string Name { get; } = name;
}

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items)
{
    public int Index0 { get; set; }

    public int Length => items.Count;

    public object? Get(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => 1L,
        "depth0" => 0L,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 < Length - 1 ? items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new BoundMethod(this, "cycle"),
        _ => new Undefined($"loop has no attribute '{name}'"),
    };

    public object? Cycle(CallArguments arguments)
    {
        if (arguments.Positional.Count == 0)
        {
            throw new TemplateException("loop.cycle() needs at least one argument");
        }

        return arguments.Positional[Index0 % arguments.Positional.Count];
    }
}

/// <summary>Variables of one scope; lookups fall back to the parent (loop body -> template -> globals).</summary>
internal sealed class Scope(Scope? parent)
{
    private readonly Dictionary<string, object?> _variables = new(StringComparer.Ordinal);

    public Scope? Parent { get; } = parent;

    public void Set(string name, object? value) => _variables[name] = value;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables.TryGetValue(name, out value))
            {
                return true;
            }
        }

        value = null;
        return false;
    }
}
