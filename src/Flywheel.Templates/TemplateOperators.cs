namespace Flywheel.Templates;

/// <summary>Attribute/item access, slicing, arithmetic and comparisons with Python semantics.</summary>
internal static class TemplateOperators
{
    /// <summary>
    /// <c>obj.name</c>: a method of the value's type first, then the dict key (Jinja's getattr order).
    /// Missing attributes give undefined, never an error.
    /// </summary>
    public static object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case OrderedDictionary<string, object?> dict:
                if (TemplateMethods.IsMethod(target, name))
                {
                    return new BoundMethod(target, name);
                }

                if (dict.TryGetValue(name, out var value))
                {
                    return value;
                }

                return TemplateMethods.IsMutating(target, name)
                    ? Unsafe(target, name)
                    : new Undefined($"'dict object' has no attribute '{name}'");
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute)
                    ? attribute
                    : new Undefined($"'Namespace' object has no attribute '{name}'");
            case LoopContext loop:
                return loop.Get(name);
            case Undefined undefined:
                return undefined;
            case null:
                return new Undefined($"'None' has no attribute '{name}'");
        }

        if (TemplateMethods.IsMethod(target, name))
        {
            return new BoundMethod(target, name);
        }

        return TemplateMethods.IsMutating(target, name)
            ? Unsafe(target, name)
            : new Undefined($"'{PyValues.TypeName(target)} object' has no attribute '{name}'");
    }

    // Templates run in an immutable sandbox in transformers: list.append, dict.update, ... are refused.
    private static Undefined Unsafe(object target, string name) =>
        new($"access to attribute '{name}' of '{PyValues.TypeName(target)}' object is unsafe: templates cannot modify values (use namespace())");

    /// <summary><c>obj[key]</c>: the item first, then (for string keys) the attribute (Jinja's getitem order).</summary>
    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case OrderedDictionary<string, object?> dict:
                if (key is string k && dict.TryGetValue(k, out var value))
                {
                    return value;
                }

                break;
            case IList<object?> list when key is long or bool:
                var index = ToIndex(key, list.Count);
                return index is >= 0 && index < list.Count ? list[(int)index] : new Undefined($"list index {key} out of range");
            case string s when key is long or bool:
                var codePoints = PyText.Length(s) == s.Length ? null : PyText.CodePoints(s);
                var length = codePoints?.Count ?? s.Length;
                var at = ToIndex(key, length);
                if (at < 0 || at >= length)
                {
                    return new Undefined($"string index {key} out of range");
                }

                return codePoints is null ? s[(int)at].ToString() : codePoints[(int)at];
            case Undefined undefined:
                return undefined;
        }

        return key is string name ? GetAttribute(target, name) : new Undefined($"'{PyValues.TypeName(target)}' object has no item {PyValues.Repr(key)}");
    }

    private static long ToIndex(object? key, int count)
    {
        var index = key is bool b ? (b ? 1 : 0) : (long)key!;
        return index < 0 ? index + count : index;
    }

    /// <summary>Python slicing <c>obj[start:stop:step]</c> of lists, tuples and strings (by code point).</summary>
    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        var stepValue = SliceBound(step) ?? 1;
        if (stepValue == 0)
        {
            throw new TemplateException("slice step cannot be zero");
        }

        IList<object?>? items = target switch
        {
            IList<object?> list => list,
            string s => [.. PyText.CodePoints(s)],
            _ => null,
        };
        if (items is null)
        {
            return target is Undefined ? target : new Undefined($"'{PyValues.TypeName(target)}' object cannot be sliced");
        }

        var count = items.Count;
        var (lower, upper) = stepValue > 0 ? (0L, (long)count) : (-1L, count - 1L);
        var from = Clamp(SliceBound(start), stepValue < 0 ? upper : lower);
        var to = Clamp(SliceBound(stop), stepValue < 0 ? lower : upper);
        var result = new List<object?>();
        for (var i = from; stepValue > 0 ? i < to : i > to; i += stepValue)
        {
            result.Add(items[(int)i]);
        }

        return target switch
        {
            string => string.Concat(result.Cast<string>()),
            object?[] => result.ToArray(),
            _ => result,
        };

        long Clamp(long? bound, long fallback)
        {
            if (bound is not { } b)
            {
                return fallback;
            }

            if (b < 0)
            {
                b += count;
            }

            return Math.Clamp(b, lower, upper);
        }
    }

    private static long? SliceBound(object? value) => value switch
    {
        null or Undefined => null,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateException($"slice indices must be integers or None, not {PyValues.TypeName(value)}"),
    };

    public static object? Unary(string op, object? operand)
    {
        if (!PyValues.IsNumber(operand))
        {
            throw UndefinedError(operand) ?? new TemplateException($"bad operand type for unary {op}: '{PyValues.TypeName(operand)}'");
        }

        if (op == "+")
        {
            return operand is bool b ? (b ? 1L : 0L) : operand;
        }

        return operand switch
        {
            double d => (object)-d,
            long l => checked(-l),
            _ => (bool)operand! ? -1L : 0L,
        };
    }

    private static TemplateException? UndefinedError(object? value) =>
        value is Undefined u ? new TemplateException(u.Describe()) : null;

    /// <summary>Python <c>==</c> chains, ordering, and <c>in</c>.</summary>
    public static bool Compare(string op, object? left, object? right) => op switch
    {
        "==" => PyValues.AreEqual(left, right),
        "!=" => !PyValues.AreEqual(left, right),
        "in" => Contains(right, left),
        "not in" => !Contains(right, left),
        _ => Order(op, left, right),
    };

    private static bool Order(string op, object? left, object? right)
    {
        var error = UndefinedError(left) ?? UndefinedError(right);
        if (error is not null)
        {
            throw error;
        }

        var c = PyValues.Compare(left, right, op);
        return op switch
        {
            "<" => c < 0,
            "<=" => c <= 0,
            ">" => c > 0,
            _ => c >= 0,
        };
    }

    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is not string needle)
                {
                    throw new TemplateException($"'in <string>' requires string as left operand, not {PyValues.TypeName(item)}");
                }

                return s.Contains(needle, StringComparison.Ordinal);
            case IList<object?> list:
                foreach (var element in list)
                {
                    if (PyValues.AreEqual(element, item))
                    {
                        return true;
                    }
                }

                return false;
            case OrderedDictionary<string, object?> dict:
                return item is string key && dict.ContainsKey(key);
            case Undefined:
                return false;
            default:
                throw new TemplateException($"argument of type '{PyValues.TypeName(container)}' is not iterable");
        }
    }

    public static object? Binary(RenderState state, string op, object? left, object? right)
    {
        if (op == "~")
        {
            var l = PyValues.Str(left);
            var r = PyValues.Str(right);
            state.CheckSize((long)l.Length + r.Length);
            return l + r;
        }

        var error = UndefinedError(left) ?? UndefinedError(right);
        if (error is not null)
        {
            throw error;
        }

        try
        {
            return Arithmetic.Apply(state, op, left, right);
        }
        catch (OverflowException)
        {
            throw new TemplateException($"integer overflow in '{op}'");
        }
    }
}
