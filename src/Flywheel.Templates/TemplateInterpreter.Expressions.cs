using System.Runtime.CompilerServices;
using System.Text;

namespace Flywheel.Templates;

internal sealed partial class TemplateInterpreter
{
    public object? Evaluate(Expr expr, Scope scope)
    {
        try
        {
            return EvaluateCore(expr, scope);
        }
        catch (TemplateException ex) when (ex.Line is null)
        {
            // The innermost expression that failed names the location.
            throw Locate(ex, expr.Offset);
        }
    }

    private object? EvaluateCore(Expr expr, Scope scope)
    {
        switch (expr)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                return Lookup(n.Name, scope);
            case AttrExpr a:
                return TemplateOperators.GetAttribute(Evaluate(a.Target, scope), a.Name);
            case ItemExpr i:
                return TemplateOperators.GetItem(Evaluate(i.Target, scope), Evaluate(i.Index, scope));
            case SliceExpr s:
                return TemplateOperators.Slice(
                    Evaluate(s.Target, scope),
                    s.Start is null ? null : Evaluate(s.Start, scope),
                    s.Stop is null ? null : Evaluate(s.Stop, scope),
                    s.Step is null ? null : Evaluate(s.Step, scope));
            case CallExpr call:
                return Call(Evaluate(call.Callee, scope), EvaluateArguments(call.Arguments, scope));
            case FilterExpr f:
                return TemplateFilters.Apply(this, f.Filter.Name, Evaluate(f.Operand, scope), EvaluateArguments(f.Filter.Arguments, scope));
            case TestExpr t:
                var passed = TemplateTests.Run(this, t.Name, Evaluate(t.Operand, scope), EvaluateArguments(t.Arguments, scope));
                return passed != t.Negated;
            case UnaryExpr u:
                var operand = Evaluate(u.Operand, scope);
                return u.Operator == "not" ? !PyValues.IsTruthy(operand) : TemplateOperators.Unary(u.Operator, operand);
            case BinaryExpr { Operator: "and" } and:
                var left = Evaluate(and.Left, scope);
                return PyValues.IsTruthy(left) ? Evaluate(and.Right, scope) : left;
            case BinaryExpr { Operator: "or" } or:
                var first = Evaluate(or.Left, scope);
                return PyValues.IsTruthy(first) ? first : Evaluate(or.Right, scope);
            case BinaryExpr b:
                return TemplateOperators.Binary(State, b.Operator, Evaluate(b.Left, scope), Evaluate(b.Right, scope));
            case CompareExpr cmp:
                var current = Evaluate(cmp.First, scope);
                foreach (var (op, next) in cmp.Rest)
                {
                    var right = Evaluate(next, scope);
                    if (!TemplateOperators.Compare(op, current, right))
                    {
                        return false;
                    }

                    current = right;
                }

                return true;
            case CondExpr cond:
                if (PyValues.IsTruthy(Evaluate(cond.Test, scope)))
                {
                    return Evaluate(cond.Then, scope);
                }

                return cond.Else is null
                    ? new Undefined("the inline if-expression evaluated to false and has no else")
                    : Evaluate(cond.Else, scope);
            case ListExpr l:
                var list = new List<object?>(l.Items.Length);
                foreach (var item in l.Items)
                {
                    list.Add(Evaluate(item, scope));
                }

                return list;
            case TupleExpr t:
                var tuple = new object?[t.Items.Length];
                for (var i = 0; i < tuple.Length; i++)
                {
                    tuple[i] = Evaluate(t.Items[i], scope);
                }

                return tuple;
            case DictExpr d:
                var dict = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
                foreach (var (keyExpr, valueExpr) in d.Pairs)
                {
                    if (Evaluate(keyExpr, scope) is not string key)
                    {
                        throw new TemplateException("dict keys in templates must be strings");
                    }

                    dict[key] = Evaluate(valueExpr, scope);
                }

                return dict;
            default:
                throw new InvalidOperationException($"unknown expression {expr.GetType().Name}");
        }
    }

    private static object? Lookup(string name, Scope scope)
    {
        if (scope.TryGet(name, out var value))
        {
            return value;
        }

        return TemplateGlobals.TryGet(name, out var builtin) ? builtin : Undefined.Named(name);
    }

    public CallArguments EvaluateArguments(Arguments arguments, Scope scope)
    {
        var positional = new List<object?>(arguments.Positional.Length);
        foreach (var p in arguments.Positional)
        {
            positional.Add(Evaluate(p, scope));
        }

        var keywords = new List<(string, object?)>(arguments.Keywords.Length);
        foreach (var (name, value) in arguments.Keywords)
        {
            keywords.Add((name, Evaluate(value, scope)));
        }

        return new CallArguments(positional, keywords);
    }

    public object? Call(object? callee, CallArguments arguments) => callee switch
    {
        Macro macro => CallMacro(macro, arguments),
        BuiltinFunction function => function.Invoke(State, arguments),
        BoundMethod method => TemplateMethods.Invoke(State, method.Target, method.Name, arguments),
        Undefined undefined => throw new TemplateException(undefined.Describe()),
        _ => throw new TemplateException($"'{PyValues.TypeName(callee)}' object is not callable"),
    };

    private string CallMacro(Macro macro, CallArguments arguments)
    {
        var definition = macro.Definition;
        if (State.CallDepth >= State.Limits.MaxCallDepth)
        {
            throw new TemplateException($"macro calls nested more than {State.Limits.MaxCallDepth} deep (runaway recursion?)");
        }

        var parameters = definition.Parameters;
        if (arguments.Positional.Count > parameters.Length)
        {
            throw new TemplateException($"macro '{definition.Name}' takes not more than {parameters.Length} argument(s)");
        }

        foreach (var (name, _) in arguments.Keywords)
        {
            if (Array.FindIndex(parameters, p => p.Name == name) < 0)
            {
                throw new TemplateException($"macro '{definition.Name}' takes no keyword argument '{name}'");
            }
        }

        var scope = new Scope(macro.Closure);
        var defaults = new List<MacroParameter>();
        for (var i = 0; i < parameters.Length; i++)
        {
            var parameter = parameters[i];
            if (arguments.Has(i, parameter.Name))
            {
                scope.Set(parameter.Name, arguments.Get(i, parameter.Name, null));
            }
            else
            {
                scope.Set(parameter.Name, Undefined.Named(parameter.Name));
                if (parameter.Default is not null)
                {
                    defaults.Add(parameter);
                }
            }
        }

        // Defaults are evaluated after all arguments are bound, so a default may refer to an earlier parameter.
        foreach (var parameter in defaults)
        {
            scope.Set(parameter.Name, Evaluate(parameter.Default!, scope));
        }

        RuntimeHelpers.EnsureSufficientExecutionStack();
        State.CallDepth++;
        try
        {
            var output = new StringBuilder();
            Execute(definition.Body, scope, output);
            return output.ToString();
        }
        finally
        {
            State.CallDepth--;
        }
    }
}
