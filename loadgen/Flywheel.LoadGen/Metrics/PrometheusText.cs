using System.Globalization;

namespace Flywheel.LoadGen.Metrics;

/// <summary>
/// The samples of one Prometheus text-format scrape, summed over label sets: for a counter such as
/// <c>flywheel_request_success_total{finish_reason="stop"}</c> the total over all finish reasons
/// is what a load test compares. <c>_bucket</c> sums are kept but meaningless; use _sum/_count.
/// </summary>
public sealed class PrometheusSnapshot(IReadOnlyDictionary<string, double> totals)
{
    /// <summary>Sample name (with any _total/_sum/_count suffix) to its value summed over label sets.</summary>
    public IReadOnlyDictionary<string, double> Totals { get; } = totals;

    public double? Get(string sampleName) => Totals.TryGetValue(sampleName, out var value) ? value : null;
}

/// <summary>
/// Parses the Prometheus text exposition format (version 0.0.4, which OpenMetrics text also
/// satisfies for these purposes): <c>name{label="value",...} value [timestamp]</c> lines, "#"
/// comments. Lines it cannot read are skipped, so one odd metric never hides the rest.
/// </summary>
public static class PrometheusText
{
    public static PrometheusSnapshot Parse(string text)
    {
        var totals = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            if (TryParseSample(line, out var name, out var value) && !double.IsNaN(value))
            {
                totals[name] = totals.GetValueOrDefault(name) + value;
            }
        }
        return new PrometheusSnapshot(totals);
    }

    /// <summary>Reads one sample line; labels are skipped (quoted values may hold '}', ',' and escapes).</summary>
    internal static bool TryParseSample(string line, out string name, out double value)
    {
        value = 0;
        var i = 0;
        while (i < line.Length && IsNameChar(line[i], i == 0))
        {
            i++;
        }
        name = line[..i];
        if (name.Length == 0)
        {
            return false;
        }
        if (i < line.Length && line[i] == '{')
        {
            i = SkipLabels(line, i + 1);
            if (i < 0)
            {
                return false;
            }
        }

        var rest = line[i..].Trim();
        var end = rest.IndexOfAny([' ', '\t']);
        var valueText = end < 0 ? rest : rest[..end];
        return TryParseValue(valueText, out value);
    }

    // Returns the index just past the closing '}', or -1 when the braces never close.
    private static int SkipLabels(string line, int i)
    {
        var quoted = false;
        for (; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted && c == '\\')
            {
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (!quoted && c == '}')
            {
                return i + 1;
            }
        }
        return -1;
    }

    private static bool TryParseValue(string text, out double value)
    {
        switch (text)
        {
            case "+Inf" or "Inf":
                value = double.PositiveInfinity;
                return true;
            case "-Inf":
                value = double.NegativeInfinity;
                return true;
            case "NaN":
                value = double.NaN;
                return true;
            default:
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
        }
    }

    private static bool IsNameChar(char c, bool first) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or '_' or ':' || (!first && c is >= '0' and <= '9');
}
