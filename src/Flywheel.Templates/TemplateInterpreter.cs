using System.Runtime.CompilerServices;
using System.Text;

namespace Flywheel.Templates;

/// <summary>
/// Executes a parsed template. One instance per render; not thread-safe (each render builds its own).
/// Scoping follows Jinja: a for loop has its own scope (assignments inside do not leak out, use a
/// namespace for that), if blocks do not, macros run in a scope under the one they were defined in.
/// </summary>
internal sealed partial class TemplateInterpreter(RenderState state)
{
    private enum Flow
    {
        Normal,
        Break,
        Continue,
    }

    public RenderState State { get; } = state;

    public string Render(Stmt[] body, Scope scope)
    {
        var output = new StringBuilder();
        Execute(body, scope, output);
        return output.ToString();
    }

    private void Write(StringBuilder output, string text)
    {
        State.ChargeOutput(text.Length);
        output.Append(text);
    }

    private Flow Execute(Stmt[] body, Scope scope, StringBuilder output)
    {
        RuntimeHelpers.EnsureSufficientExecutionStack();
        foreach (var stmt in body)
        {
            Flow flow;
            try
            {
                flow = ExecuteOne(stmt, scope, output);
            }
            catch (TemplateException ex) when (ex.Line is null)
            {
                throw Locate(ex, stmt.Offset);
            }

            if (flow != Flow.Normal)
            {
                return flow;
            }
        }

        return Flow.Normal;
    }

    private Flow ExecuteOne(Stmt stmt, Scope scope, StringBuilder output)
    {
        switch (stmt)
        {
            case TextStmt text:
                Write(output, text.Text);
                return Flow.Normal;
            case OutputStmt o:
                Write(output, PyValues.Str(Evaluate(o.Value, scope)));
                return Flow.Normal;
            case IfStmt i:
                foreach (var branch in i.Branches)
                {
                    if (PyValues.IsTruthy(Evaluate(branch.Test, scope)))
                    {
                        return Execute(branch.Body, scope, output);
                    }
                }

                return i.Else is null ? Flow.Normal : Execute(i.Else, scope, output);
            case ForStmt f:
                ExecuteFor(f, scope, output);
                return Flow.Normal;
            case SetStmt s:
                Assign(s.Target, Evaluate(s.Value, scope), scope);
                return Flow.Normal;
            case BlockSetStmt b:
                Assign(b.Target, ApplyFilters(b.Filters, Capture(b.Body, scope), scope), scope);
                return Flow.Normal;
            case MacroStmt m:
                scope.Set(m.Name, new Macro(m, scope));
                return Flow.Normal;
            case FilterBlockStmt fb:
                Write(output, PyValues.Str(ApplyFilters(fb.Filters, Capture(fb.Body, scope), scope)));
                return Flow.Normal;
            case GroupStmt g:
                return Execute(g.Body, scope, output);
            case BreakStmt:
                return Flow.Break;
            case ContinueStmt:
                return Flow.Continue;
            default:
                throw new InvalidOperationException($"unknown statement {stmt.GetType().Name}");
        }
    }

    private string Capture(Stmt[] body, Scope scope)
    {
        var buffer = new StringBuilder();
        Execute(body, scope, buffer);
        return buffer.ToString();
    }

    private object? ApplyFilters(FilterCall[] filters, object? value, Scope scope)
    {
        foreach (var filter in filters)
        {
            value = TemplateFilters.Apply(this, filter.Name, value, EvaluateArguments(filter.Arguments, scope));
        }

        return value;
    }

    private void ExecuteFor(ForStmt loop, Scope scope, StringBuilder output)
    {
        var items = Iterate(Evaluate(loop.Iterable, scope));
        if (loop.Filter is not null)
        {
            var kept = new List<object?>();
            var filterScope = new Scope(scope);
            foreach (var item in items)
            {
                State.CountIteration();
                Assign(loop.Target, item, filterScope);
                if (PyValues.IsTruthy(Evaluate(loop.Filter, filterScope)))
                {
                    kept.Add(item);
                }
            }

            items = kept;
        }

        // Each iteration starts from a fresh scope: as in Jinja, "set x" in one iteration is not seen by
        // the next (only namespace attributes carry over).
        var context = new LoopContext(items);
        for (var i = 0; i < items.Count; i++)
        {
            State.CountIteration();
            context.Index0 = i;
            var iterationScope = new Scope(scope);
            iterationScope.Set("loop", context);
            Assign(loop.Target, items[i], iterationScope);
            if (Execute(loop.Body, iterationScope, output) == Flow.Break)
            {
                break;
            }
        }

        if (items.Count == 0 && loop.Else is not null)
        {
            Execute(loop.Else, new Scope(scope), output);
        }
    }

    /// <summary>What a for loop walks: list and tuple items, string code points, dict keys; undefined is empty.</summary>
    public static List<object?> Iterate(object? value) => value switch
    {
        IList<object?> list => [.. list],
        string s => [.. PyText.CodePoints(s)],
        OrderedDictionary<string, object?> dict => [.. dict.Keys],
        Undefined => [],
        _ => throw new TemplateException($"'{PyValues.TypeName(value)}' object is not iterable"),
    };

    private void Assign(Target target, object? value, Scope scope)
    {
        switch (target)
        {
            case NameTarget n:
                scope.Set(n.Name, value);
                break;
            case TupleTarget t:
                if (value is not IList<object?> items)
                {
                    throw new TemplateException($"cannot unpack non-sequence '{PyValues.TypeName(value)}' into {t.Names.Length} names");
                }

                if (items.Count != t.Names.Length)
                {
                    throw new TemplateException(items.Count > t.Names.Length
                        ? $"too many values to unpack (expected {t.Names.Length})"
                        : $"not enough values to unpack (expected {t.Names.Length}, got {items.Count})");
                }

                for (var i = 0; i < items.Count; i++)
                {
                    scope.Set(t.Names[i], items[i]);
                }

                break;
            case AttributeTarget a:
                if (!scope.TryGet(a.Object, out var holder) || holder is not Namespace ns)
                {
                    throw new TemplateException($"cannot assign attribute '{a.Attribute}' on '{a.Object}': only namespace() objects can be assigned to");
                }

                ns.Attributes[a.Attribute] = value;
                break;
        }
    }

    private TemplateException Locate(TemplateException ex, int offset)
    {
        var (line, column) = State.Source.Locate(offset);
        return ex.RaisedByTemplate ? TemplateException.Raised(ex.Message, line, column) : new TemplateException(ex.Reason, line, column);
    }
}
