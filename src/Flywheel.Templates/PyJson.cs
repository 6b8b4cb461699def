using System.Globalization;
using System.Text;

namespace Flywheel.Templates;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it: Python <c>json.dumps(x, ensure_ascii=False,
/// indent=indent, separators=separators, sort_keys=sort_keys)</c>. Output matches Python character for
/// character: ", " and ": " separators (",", ": " when indented), non-ASCII kept as is, floats as Python
/// writes them (1.0, 1e+16), keys in insertion order unless sorted.
/// </summary>
internal sealed class PyJson
{
    private const int MaxDepth = 100;

    private readonly StringBuilder _sb = new();
    private readonly string? _indent;
    private readonly string _itemSeparator;
    private readonly string _keySeparator;
    private readonly bool _sortKeys;
    private readonly bool _ensureAscii;

    private PyJson(string? indent, (string Item, string Key)? separators, bool sortKeys, bool ensureAscii)
    {
        _indent = indent;
        (_itemSeparator, _keySeparator) = separators ?? (indent is null ? (", ", ": ") : (",", ": "));
        _sortKeys = sortKeys;
        _ensureAscii = ensureAscii;
    }

    public static string Dumps(object? value, string? indent = null, (string, string)? separators = null, bool sortKeys = false, bool ensureAscii = false)
    {
        var writer = new PyJson(indent, separators, sortKeys, ensureAscii);
        writer.Write(value, 0);
        return writer._sb.ToString();
    }

    private void Write(object? value, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new TemplateException("tojson: value nested too deeply");
        }

        switch (value)
        {
            case null or Undefined: _sb.Append("null"); break;
            case bool b: _sb.Append(b ? "true" : "false"); break;
            case long l: _sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: _sb.Append(double.IsNaN(d) ? "NaN" : double.IsInfinity(d) ? (d > 0 ? "Infinity" : "-Infinity") : PyValues.FloatRepr(d)); break;
            case string s: WriteString(s); break;
            case IList<object?> list: WriteArray(list, depth); break;
            case OrderedDictionary<string, object?> dict: WriteObject(dict, depth); break;
            case Namespace ns: WriteObject(ns.Attributes, depth); break;
            default: throw new TemplateException($"Object of type {PyValues.TypeName(value)} is not JSON serializable");
        }
    }

    private void WriteArray(IList<object?> list, int depth)
    {
        if (list.Count == 0)
        {
            _sb.Append("[]");
            return;
        }

        _sb.Append('[');
        for (var i = 0; i < list.Count; i++)
        {
            if (i > 0)
            {
                _sb.Append(_itemSeparator);
            }

            NewLine(depth + 1);
            Write(list[i], depth + 1);
        }

        NewLine(depth);
        _sb.Append(']');
    }

    private void WriteObject(OrderedDictionary<string, object?> dict, int depth)
    {
        if (dict.Count == 0)
        {
            _sb.Append("{}");
            return;
        }

        IEnumerable<KeyValuePair<string, object?>> entries = dict;
        if (_sortKeys)
        {
            entries = dict.OrderBy(e => e.Key, StringComparer.Ordinal);
        }

        _sb.Append('{');
        var first = true;
        foreach (var (key, value) in entries)
        {
            if (!first)
            {
                _sb.Append(_itemSeparator);
            }

            first = false;
            NewLine(depth + 1);
            WriteString(key);
            _sb.Append(_keySeparator);
            Write(value, depth + 1);
        }

        NewLine(depth);
        _sb.Append('}');
    }

    private void NewLine(int depth)
    {
        if (_indent is null)
        {
            return;
        }

        _sb.Append('\n');
        for (var i = 0; i < depth; i++)
        {
            _sb.Append(_indent);
        }
    }

    private void WriteString(string s)
    {
        _sb.Append('"');
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            switch (c)
            {
                case '"': _sb.Append("\\\""); break;
                case '\\': _sb.Append("\\\\"); break;
                case '\n': _sb.Append("\\n"); break;
                case '\r': _sb.Append("\\r"); break;
                case '\t': _sb.Append("\\t"); break;
                case '\b': _sb.Append("\\b"); break;
                case '\f': _sb.Append("\\f"); break;
                default:
                    // ensure_ascii escapes everything outside ' '..'~' (a surrogate pair as two escapes);
                    // lone surrogates are escaped either way, so the output stays well-formed.
                    var lone = char.IsHighSurrogate(c)
                        ? !(i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        : char.IsLowSurrogate(c) && !(i > 0 && char.IsHighSurrogate(s[i - 1]));
                    if (c < ' ' || (_ensureAscii && c > '~') || lone)
                    {
                        _sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        _sb.Append(c);
                    }

                    break;
            }
        }

        _sb.Append('"');
    }
}
