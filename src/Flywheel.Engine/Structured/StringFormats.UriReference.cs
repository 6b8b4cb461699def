namespace Flywheel.Structured;

/// <summary>
/// <c>format: uri-reference</c>: RFC 3986 section 4.1, rule by rule (URI-reference = URI /
/// relative-ref), so the language is the RFC's exactly: any scheme, authority with userinfo, IPv6 (with
/// an embedded IPv4 tail) and IPvFuture literals, registered names and ports; absolute, rootless,
/// no-scheme and empty paths; query and fragment. ABNF literals are case-insensitive, so hex digits and
/// the IPvFuture "v" take either case.
/// </summary>
internal static partial class StringFormats
{
    private const string Hex = "[0-9A-Fa-f]";
    private const string PctEncoded = "%" + Hex + Hex;

    // Character classes of RFC 3986 section 2: unreserved, then sub-delims; '-' last in each class.
    private const string UnreservedSubDelims = "A-Za-z0-9._~!$&'()*+,;=";

    private const string Segment = Pchar + "*";
    private const string SegmentNz = Pchar + "+";
    private const string SegmentNzNc = "(?:[" + UnreservedSubDelims + "@-]|" + PctEncoded + ")+";
    private const string QueryOrFragment = "(?:" + Pchar + "|[/?])*";

    private const string Ls32 = "(?:" + H16 + ":" + H16 + "|" + Octet + "(?:\\." + Octet + "){3})";
    private const string Ipv6Address =
        "(?:(?:" + H16 + ":){6}" + Ls32 +
        "|::(?:" + H16 + ":){5}" + Ls32 +
        "|(?:" + H16 + ")?::(?:" + H16 + ":){4}" + Ls32 +
        "|(?:(?:" + H16 + ":){0,1}" + H16 + ")?::(?:" + H16 + ":){3}" + Ls32 +
        "|(?:(?:" + H16 + ":){0,2}" + H16 + ")?::(?:" + H16 + ":){2}" + Ls32 +
        "|(?:(?:" + H16 + ":){0,3}" + H16 + ")?::" + H16 + ":" + Ls32 +
        "|(?:(?:" + H16 + ":){0,4}" + H16 + ")?::" + Ls32 +
        "|(?:(?:" + H16 + ":){0,5}" + H16 + ")?::" + H16 +
        "|(?:(?:" + H16 + ":){0,6}" + H16 + ")?::)";

    private const string IpvFuture = "[vV]" + Hex + "+\\.[" + UnreservedSubDelims + ":-]+";
    private const string IpLiteral = "\\[(?:" + Ipv6Address + "|" + IpvFuture + ")\\]";

    // reg-name also covers IPv4address (digits and dots), so host needs no separate IPv4 branch.
    private const string RegName = "(?:[" + UnreservedSubDelims + "-]|" + PctEncoded + ")*";
    private const string UserInfo = "(?:[" + UnreservedSubDelims + ":-]|" + PctEncoded + ")*";
    private const string Authority = "(?:" + UserInfo + "@)?(?:" + IpLiteral + "|" + RegName + ")(?::[0-9]*)?";

    private const string PathAbEmpty = "(?:/" + Segment + ")*";
    private const string PathAbsolute = "/(?:" + SegmentNz + PathAbEmpty + ")?";
    private const string PathRootless = SegmentNz + PathAbEmpty;
    private const string PathNoScheme = SegmentNzNc + PathAbEmpty;

    // hier-part and relative-part; the trailing '?' is path-empty.
    private const string HierPart = "(?://" + Authority + PathAbEmpty + "|" + PathAbsolute + "|" + PathRootless + ")?";
    private const string RelativePart = "(?://" + Authority + PathAbEmpty + "|" + PathAbsolute + "|" + PathNoScheme + ")?";

    private const string UriReference =
        "(?:[A-Za-z][A-Za-z0-9+.-]*:" + HierPart + "|" + RelativePart + ")" +
        "(?:\\?" + QueryOrFragment + ")?(?:#" + QueryOrFragment + ")?";
}
