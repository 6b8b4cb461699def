using System.Globalization;

namespace Flywheel.LoadGen.Reports;

/// <summary>How the reports write numbers: latencies keep their leading digits, axis labels stay short.</summary>
internal static class NumberText
{
    /// <summary>
    /// A latency in milliseconds: one decimal from 1 ms up, three significant digits below, so a 40 µs
    /// inter-token gap reads "0.04" rather than "0"; "-" for a missing or non-finite value.
    /// </summary>
    public static string Milliseconds(double? milliseconds)
    {
        if (milliseconds is not { } ms || !double.IsFinite(ms))
        {
            return "-";
        }
        if (ms == 0 || Math.Abs(ms) >= 1)
        {
            return ms.ToString("0.#", CultureInfo.InvariantCulture);
        }
        var decimals = Math.Clamp(2 - (int)Math.Floor(Math.Log10(Math.Abs(ms))), 3, 9);
        return Math.Round(ms, decimals).ToString("0." + new string('#', decimals), CultureInfo.InvariantCulture);
    }

    /// <summary>An axis tick label: "20k", "1.5M", "0.25" (never an exponent like "2E+04").</summary>
    public static string AxisLabel(double value)
    {
        var magnitude = Math.Abs(value);
        var (scaled, suffix) = magnitude >= 1e9 ? (value / 1e9, "G")
            : magnitude >= 1e6 ? (value / 1e6, "M")
            : magnitude >= 1e3 ? (value / 1e3, "k")
            : (value, "");
        var format = suffix.Length > 0 || magnitude >= 1 || magnitude == 0 ? "0.##" : "0.#########";
        return Math.Round(scaled, 9).ToString(format, CultureInfo.InvariantCulture) + suffix;
    }
}
