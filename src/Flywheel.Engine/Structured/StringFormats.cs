namespace Flywheel.Structured;

/// <summary>
/// The <c>format</c> values compiled into automata, each as an anchored ECMA regex over the decoded
/// string. Each is exact or a documented narrowing of its RFC so that every generated value is
/// valid both by the RFC and by NJsonSchema's checks (which use .NET parsers):
/// date (RFC 3339 full-date, years 0001-9999, leap years exact), time (RFC 3339 full-time with
/// hours 00-23, seconds 00-59, up to 7 fraction digits, offsets within ±14:00, upper-case Z),
/// date-time (date "T" time), email (dot-atom local part @ dotted host name), uuid (8-4-4-4-12 hex),
/// ipv4 (dotted quad, no leading zeros), ipv6 (RFC 4291 hex forms with "::", no embedded IPv4, no
/// zone), uri (http/https URLs with a host name whose last label starts with a letter),
/// uri-reference (RFC 3986 URI-reference exactly: a URI of any scheme or a relative reference;
/// StringFormats.UriReference.cs).
/// </summary>
internal static partial class StringFormats
{
    private const string Year = "(?:000[1-9]|00[1-9]\\d|0[1-9]\\d\\d|[1-9]\\d{3})";
    private const string LeapYear = "(?:\\d\\d(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)";
    private const string MonthDay =
        "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\\d|30)|02-(?:0[1-9]|1\\d|2[0-8]))";

    private const string Date = "(?:" + Year + "-" + MonthDay + "|" + LeapYear + "-02-29)";
    private const string Time =
        "(?:[01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d(?:\\.\\d{1,7})?(?:Z|[+-](?:0\\d|1[0-3]):[0-5]\\d|[+-]14:00)";

    private const string Label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    private const string LastLabel = "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    private const string Atext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
    private const string H16 = "[0-9A-Fa-f]{1,4}";
    private const string Octet = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
    private const string Port = "(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d\\d|6[0-4]\\d{3}|[1-5]\\d{4}|[1-9]\\d{0,3}|0)";
    private const string Pchar = "(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})";

    private static readonly Dictionary<string, string> Patterns = new(StringComparer.Ordinal)
    {
        ["date"] = Date,
        ["time"] = Time,
        ["date-time"] = Date + "T" + Time,
        ["email"] = Atext + "+(?:\\." + Atext + "+)*@(?:" + Label + "\\.)+" + LastLabel,
        ["uuid"] = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        ["ipv4"] = Octet + "(?:\\." + Octet + "){3}",
        ["ipv6"] = "(?:(?:" + H16 + ":){7}" + H16 +
                   "|(?:" + H16 + ":){1,7}:" +
                   "|(?:" + H16 + ":){1,6}:" + H16 +
                   "|(?:" + H16 + ":){1,5}(?::" + H16 + "){1,2}" +
                   "|(?:" + H16 + ":){1,4}(?::" + H16 + "){1,3}" +
                   "|(?:" + H16 + ":){1,3}(?::" + H16 + "){1,4}" +
                   "|(?:" + H16 + ":){1,2}(?::" + H16 + "){1,5}" +
                   "|" + H16 + ":(?::" + H16 + "){1,6}" +
                   "|:(?:(?::" + H16 + "){1,7}|:))",
        ["uri"] = "https?://(?:" + Label + "\\.)*" + LastLabel + "(?::" + Port + ")?" +
                  "(?:/" + Pchar + "*)*(?:\\?(?:" + Pchar + "|[/?])*)?(?:#(?:" + Pchar + "|[/?])*)?",
        ["uri-reference"] = UriReference,
    };

    private static readonly Dictionary<string, ByteDfa> Cache = new(StringComparer.Ordinal);

    public static IEnumerable<string> Supported => Patterns.Keys;

    /// <summary>The anchored ECMA regex of <paramref name="format"/> (a supported one).</summary>
    public static string Pattern(string format) => "^" + Patterns[format] + "$";

    /// <summary>DFA over the decoded string for <paramref name="format"/>; refuses unknown formats.</summary>
    public static ByteDfa Get(string format, string pointer)
    {
        if (!Patterns.TryGetValue(format, out var pattern))
        {
            throw new SchemaCompileException("format", pointer,
                $"format \"{format}\" has no automaton (supported: {string.Join(", ", Patterns.Keys)})");
        }

        lock (Cache)
        {
            if (!Cache.TryGetValue(format, out var dfa))
            {
                dfa = RegexCompiler.Compile(Pattern(format), "format", pointer);
                Cache[format] = dfa;
            }

            return dfa;
        }
    }
}
