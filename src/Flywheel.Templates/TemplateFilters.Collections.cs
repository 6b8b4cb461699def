namespace Flywheel.Templates;

// Filters over sequences: select/reject(attr), map, sort, unique, dictsort.
internal static partial class TemplateFilters
{
    /// <summary>Jinja's attribute path ("a.b.0"): each part is an item lookup, digits as integer indexes.</summary>
    private static object? GetPath(object? item, object? attribute)
    {
        if (attribute is long index)
        {
            return TemplateOperators.GetItem(item, index);
        }

        foreach (var part in PyValues.Str(attribute).Split('.'))
        {
            object key = part.Length > 0 && part.All(char.IsAsciiDigit) ? long.Parse(part, System.Globalization.CultureInfo.InvariantCulture) : part;
            item = TemplateOperators.GetItem(item, key);
        }

        return item;
    }

    private static object? Select(TemplateInterpreter interpreter, object? value, CallArguments args, bool byAttribute, bool keep)
    {
        var positional = args.Positional;
        var offset = 0;
        object? attribute = null;
        if (byAttribute)
        {
            if (positional.Count == 0)
            {
                throw new TemplateException("selectattr/rejectattr need an attribute name");
            }

            attribute = positional[0];
            offset = 1;
        }

        string? test = null;
        if (positional.Count > offset)
        {
            test = positional[offset] as string ?? throw new TemplateException("select/reject: the test name must be a string");
        }

        var testArgs = new CallArguments(positional.Skip(offset + 1).ToList(), args.Keywords);
        var result = new List<object?>();
        foreach (var item in TemplateInterpreter.Iterate(value))
        {
            var subject = byAttribute ? GetPath(item, attribute) : item;
            var passed = test is null ? PyValues.IsTruthy(subject) : TemplateTests.Run(interpreter, test, subject, testArgs);
            if (passed == keep)
            {
                result.Add(item);
            }
        }

        return result;
    }

    private static object? Map(TemplateInterpreter interpreter, object? value, CallArguments args)
    {
        var items = TemplateInterpreter.Iterate(value);
        if (args.Positional.Count == 0)
        {
            args.Check("filter 'map'", 0, "attribute", "default");
            var attribute = args.Get(-1, "attribute", null) ?? throw new TemplateException("filter 'map' needs a filter name or attribute=");
            var hasDefault = args.Has(-1, "default");
            var fallback = args.Get(-1, "default", null);
            return items.Select(item =>
            {
                var mapped = GetPath(item, attribute);
                return mapped is Undefined && hasDefault ? fallback : mapped;
            }).ToList();
        }

        var filter = args.Positional[0] as string ?? throw new TemplateException("filter 'map': the filter name must be a string");
        if (!Exists(filter))
        {
            throw new TemplateException($"filter 'map': unknown filter '{filter}'");
        }

        var filterArgs = new CallArguments(args.Positional.Skip(1).ToList(), args.Keywords);
        return items.Select(item => Apply(interpreter, filter, item, filterArgs)).ToList();
    }

    private static object? SortKey(object? item, object? attribute, bool caseSensitive)
    {
        var key = attribute is null ? item : GetPath(item, attribute);
        return !caseSensitive && key is string s ? s.ToLowerInvariant() : key;
    }

    private static object? Sort(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'sort'", 3, "reverse", "case_sensitive", "attribute");
        var reverse = PyValues.IsTruthy(args.Get(0, "reverse", false));
        var caseSensitive = PyValues.IsTruthy(args.Get(1, "case_sensitive", false));
        var attribute = args.Get(2, "attribute", null);
        var items = TemplateInterpreter.Iterate(value);
        var keyed = items.Select(item => (Key: SortKey(item, attribute, caseSensitive), Item: item)).ToList();
        var comparer = Comparer<object?>.Create((a, b) => PyValues.Compare(a, b, "<"));

        // OrderBy is stable, like Python's sort; reverse=True keeps equal items in their original order too.
        var sorted = reverse ? keyed.OrderByDescending(k => k.Key, comparer) : keyed.OrderBy(k => k.Key, comparer);
        return sorted.Select(k => k.Item).ToList();
    }

    private static object? Unique(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'unique'", 2, "case_sensitive", "attribute");
        var caseSensitive = PyValues.IsTruthy(args.Get(0, "case_sensitive", false));
        var attribute = args.Get(1, "attribute", null);
        var seen = new List<object?>();
        var result = new List<object?>();
        foreach (var item in TemplateInterpreter.Iterate(value))
        {
            var key = SortKey(item, attribute, caseSensitive);
            if (!seen.Exists(k => PyValues.AreEqual(k, key)))
            {
                seen.Add(key);
                result.Add(item);
            }
        }

        return result;
    }

    private static object? DictSort(TemplateInterpreter _, object? value, CallArguments args)
    {
        args.Check("filter 'dictsort'", 3, "case_sensitive", "by", "reverse");
        if (value is not OrderedDictionary<string, object?> dict)
        {
            throw new TemplateException($"filter 'dictsort' needs a mapping, not '{PyValues.TypeName(value)}'");
        }

        var caseSensitive = PyValues.IsTruthy(args.Get(0, "case_sensitive", false));
        var byValue = args.Get(1, "by", "key") switch
        {
            "key" => false,
            "value" => true,
            _ => throw new TemplateException("filter 'dictsort': by must be 'key' or 'value'"),
        };
        var reverse = PyValues.IsTruthy(args.Get(2, "reverse", false));
        var comparer = Comparer<object?>.Create((a, b) => PyValues.Compare(a, b, "<"));
        var entries = dict.Select(e => (Key: SortKey(byValue ? e.Value : e.Key, null, caseSensitive), Pair: (object?)new object?[] { e.Key, e.Value }));
        var sorted = reverse ? entries.OrderByDescending(e => e.Key, comparer) : entries.OrderBy(e => e.Key, comparer);
        return sorted.Select(e => e.Pair).ToList();
    }

    private static object? Sum(TemplateInterpreter interpreter, object? value, CallArguments args)
    {
        args.Check("filter 'sum'", 2, "attribute", "start");
        var attribute = args.Get(0, "attribute", null);
        var total = args.Get(1, "start", 0L);
        foreach (var item in TemplateInterpreter.Iterate(value))
        {
            total = TemplateOperators.Binary(interpreter.State, "+", total, attribute is null ? item : GetPath(item, attribute));
        }

        return total;
    }

    private static object? Extreme(object? value, CallArguments args, string which)
    {
        args.Check($"filter '{which}'", 2, "case_sensitive", "attribute");
        var caseSensitive = PyValues.IsTruthy(args.Get(0, "case_sensitive", false));
        var attribute = args.Get(1, "attribute", null);
        var items = TemplateInterpreter.Iterate(value);
        if (items.Count == 0)
        {
            return new Undefined("no aggregated item, sequence was empty");
        }

        var best = items[0];
        var bestKey = SortKey(best, attribute, caseSensitive);
        foreach (var item in items.Skip(1))
        {
            var key = SortKey(item, attribute, caseSensitive);
            var c = PyValues.Compare(key, bestKey, "<");
            if (which == "min" ? c < 0 : c > 0)
            {
                (best, bestKey) = (item, key);
            }
        }

        return best;
    }
}
