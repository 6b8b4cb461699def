using System.Globalization;
using System.Text;

namespace Flywheel.Templates;

/// <summary>
/// Python <c>str</c> semantics the templates depend on: whitespace, line boundaries, strip/split, title case,
/// and indexing by code point (Python counts code points; .NET strings count UTF-16 units).
/// </summary>
internal static class PyText
{
    /// <summary>Python's <c>str.isspace()</c> for one UTF-16 unit (.NET lacks \x1c-\x1f).</summary>
    public static bool IsWhitespace(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    /// <summary>A line boundary of <c>str.splitlines()</c> (\r\n is handled by the callers).</summary>
    public static bool IsLineBoundary(char c) =>
        c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029';

    public static string NormalizeNewlines(string s)
    {
        if (s.AsSpan().IndexOfAny("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029") < 0)
        {
            return s;
        }

        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n')
            {
                i++;
            }

            sb.Append(IsLineBoundary(c) ? '\n' : c);
        }

        return sb.ToString();
    }

    /// <summary>Python <c>str.splitlines()</c> (no line ends kept).</summary>
    public static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        var start = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (!IsLineBoundary(s[i]))
            {
                continue;
            }

            lines.Add(s[start..i]);
            if (s[i] == '\r' && i + 1 < s.Length && s[i + 1] == '\n')
            {
                i++;
            }

            start = i + 1;
        }

        if (start < s.Length)
        {
            lines.Add(s[start..]);
        }

        return lines;
    }

    /// <summary>Python <c>strip/lstrip/rstrip(chars)</c>; <paramref name="chars"/> null strips whitespace.</summary>
    public static string Strip(string s, string? chars, bool left, bool right)
    {
        var start = 0;
        var end = s.Length;
        if (left)
        {
            while (start < end && Matches(s[start], chars))
            {
                start++;
            }
        }

        if (right)
        {
            while (end > start && Matches(s[end - 1], chars))
            {
                end--;
            }
        }

        return s[start..end];

        static bool Matches(char c, string? chars) => chars is null ? IsWhitespace(c) : chars.Contains(c);
    }

    /// <summary>Python <c>str.split(sep, maxsplit)</c>; null <paramref name="sep"/> splits on whitespace runs.</summary>
    public static List<string> Split(string s, string? sep, long maxSplit)
    {
        var parts = new List<string>();
        if (sep is null)
        {
            var i = 0;
            while (true)
            {
                while (i < s.Length && IsWhitespace(s[i]))
                {
                    i++;
                }

                if (i == s.Length)
                {
                    break;
                }

                if (maxSplit >= 0 && parts.Count == maxSplit)
                {
                    parts.Add(s[i..]);
                    break;
                }

                var start = i;
                while (i < s.Length && !IsWhitespace(s[i]))
                {
                    i++;
                }

                parts.Add(s[start..i]);
            }

            return parts;
        }

        if (sep.Length == 0)
        {
            throw new TemplateException("split(): empty separator");
        }

        var from = 0;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var at = s.IndexOf(sep, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            parts.Add(s[from..at]);
            from = at + sep.Length;
        }

        parts.Add(s[from..]);
        return parts;
    }

    /// <summary>Python <c>str.rsplit(sep, maxsplit)</c> for an explicit separator.</summary>
    public static List<string> RSplit(string s, string sep, long maxSplit)
    {
        if (sep.Length == 0)
        {
            throw new TemplateException("rsplit(): empty separator");
        }

        var parts = new List<string>();
        var to = s.Length;
        while (maxSplit < 0 || parts.Count < maxSplit)
        {
            var at = to == 0 ? -1 : s.LastIndexOf(sep, to - 1, StringComparison.Ordinal);
            if (at < 0 || at + sep.Length > to)
            {
                break;
            }

            parts.Add(s[(at + sep.Length)..to]);
            to = at;
        }

        parts.Add(s[..to]);
        parts.Reverse();
        return parts;
    }

    /// <summary>Python <c>str.replace(old, new, count)</c>, including the empty-<paramref name="old"/> case.</summary>
    public static string Replace(string s, string old, string replacement, long count)
    {
        if (count == 0)
        {
            return s;
        }

        var sb = new StringBuilder();
        if (old.Length == 0)
        {
            var done = 0L;
            var elements = CodePoints(s);
            foreach (var element in elements)
            {
                if (count < 0 || done < count)
                {
                    sb.Append(replacement);
                    done++;
                }

                sb.Append(element);
            }

            if (count < 0 || done < count)
            {
                sb.Append(replacement);
            }

            return sb.ToString();
        }

        var from = 0;
        var replaced = 0L;
        while (count < 0 || replaced < count)
        {
            var at = s.IndexOf(old, from, StringComparison.Ordinal);
            if (at < 0)
            {
                break;
            }

            sb.Append(s, from, at - from).Append(replacement);
            from = at + old.Length;
            replaced++;
        }

        return sb.Append(s, from, s.Length - from).ToString();
    }

    /// <summary>Python <c>str.title()</c>: a cased letter after a non-cased character starts a word.</summary>
    public static string Title(string s)
    {
        var sb = new StringBuilder(s.Length);
        var previousCased = false;
        foreach (var c in s)
        {
            var cased = char.IsLetter(c);
            sb.Append(cased ? (previousCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c)) : c);
            previousCased = cased;
        }

        return sb.ToString();
    }

    /// <summary>Python <c>str.capitalize()</c>: first character upper case, the rest lower case.</summary>
    public static string Capitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    /// <summary>The string's code points, each as a string (Python iterates and indexes strings this way).</summary>
    public static List<string> CodePoints(string s)
    {
        var list = new List<string>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                list.Add(s.Substring(i, 2));
                i++;
            }
            else
            {
                list.Add(s[i].ToString());
            }
        }

        return list;
    }

    /// <summary>Python <c>len(str)</c>: the number of code points.</summary>
    public static int Length(string s)
    {
        var surrogatePairs = 0;
        for (var i = 0; i + 1 < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && char.IsLowSurrogate(s[i + 1]))
            {
                surrogatePairs++;
                i++;
            }
        }

        return s.Length - surrogatePairs;
    }

    public static string ToLower(string s) => s.ToLowerInvariant();

    public static string ToUpper(string s) => s.ToUpperInvariant();

    public static bool IsAllCased(string s, bool upper)
    {
        var anyCased = false;
        foreach (var c in s)
        {
            if (char.IsUpper(c) || char.IsLower(c))
            {
                anyCased = true;
                if (upper ? char.IsLower(c) : char.IsUpper(c))
                {
                    return false;
                }
            }
        }

        return anyCased;
    }

    public static string Invariant(long value) => value.ToString(CultureInfo.InvariantCulture);
}
