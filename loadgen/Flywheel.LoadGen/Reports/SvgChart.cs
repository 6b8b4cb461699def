using System.Globalization;
using System.Text;

namespace Flywheel.LoadGen.Reports;

/// <summary>
/// A small self-contained SVG chart: line series (optionally with point markers), histogram bars and
/// labelled vertical markers, on linear axes from zero (y) with 1-2-5 ticks. Enough for load-test
/// plots without a plotting library; the output opens in any browser and renders on GitHub.
/// </summary>
internal sealed class SvgChart(string title, string xLabel, string yLabel)
{
    private const int Width = 760, Height = 420, Left = 70, Right = 20, Top = 40, Bottom = 55;
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];

    private readonly List<(string Name, IReadOnlyList<(double X, double Y)> Points, bool Markers)> _lines = [];
    private readonly List<(double X0, double X1, double Y)> _bars = [];
    private readonly List<(double X, string Label)> _markers = [];

    public SvgChart AddLine(string name, IEnumerable<(double X, double Y)> points, bool markers = false)
    {
        _lines.Add((name, points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList(), markers));
        return this;
    }

    public SvgChart AddBars(IEnumerable<(double X0, double X1, double Y)> bars)
    {
        _bars.AddRange(bars);
        return this;
    }

    public SvgChart AddMarker(double x, string label)
    {
        if (double.IsFinite(x))
        {
            _markers.Add((x, label));
        }
        return this;
    }

    public string Render()
    {
        var xs = _lines.SelectMany(l => l.Points.Select(p => p.X)).Concat(_bars.SelectMany(b => new[] { b.X0, b.X1 })).ToList();
        var ys = _lines.SelectMany(l => l.Points.Select(p => p.Y)).Concat(_bars.Select(b => b.Y)).ToList();
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        Text(svg, Width / 2.0, 22, title, "middle", 15, bold: true);
        if (xs.Count == 0)
        {
            Text(svg, Width / 2.0, Height / 2.0, "no data", "middle", 14);
            return svg.Append("</svg>\n").ToString();
        }

        var (xMin, xMax) = (xs.Min(), xs.Max());
        if (xMax <= xMin)
        {
            (xMin, xMax) = (xMin - 0.5, xMax + 0.5);
        }
        var yMax = NiceCeiling(Math.Max(ys.Max(), 1e-12) * 1.05);
        double X(double x) => Left + (x - xMin) / (xMax - xMin) * (Width - Left - Right);
        double Y(double y) => Height - Bottom - y / yMax * (Height - Top - Bottom);

        DrawAxes(svg, xMin, xMax, yMax, X, Y);
        foreach (var (x0, x1, y) in _bars)
        {
            svg.Append(CultureInfo.InvariantCulture,
                $"<rect x=\"{X(x0):0.##}\" y=\"{Y(y):0.##}\" width=\"{Math.Max(0.5, X(x1) - X(x0) - 1):0.##}\" height=\"{Y(0) - Y(y):0.##}\" fill=\"{Palette[0]}\" fill-opacity=\"0.75\"/>\n");
        }
        for (var i = 0; i < _lines.Count; i++)
        {
            var (name, points, markers) = _lines[i];
            var color = Palette[i % Palette.Length];
            var path = string.Join(' ', points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.X):0.##},{Y(p.Y):0.##}")));
            svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\n");
            if (markers)
            {
                foreach (var p in points)
                {
                    svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{X(p.X):0.##}\" cy=\"{Y(p.Y):0.##}\" r=\"3.5\" fill=\"{color}\"/>\n");
                }
            }
            // Legend, top right, one row per series.
            var ly = Top + 6 + i * 18;
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Width - Right - 170}\" y=\"{ly}\" width=\"14\" height=\"4\" fill=\"{color}\"/>\n");
            Text(svg, Width - Right - 150, ly + 6, name, "start", 12);
        }
        foreach (var (x, label) in _markers)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(x):0.##}\" y1=\"{Top}\" x2=\"{X(x):0.##}\" y2=\"{Height - Bottom}\" stroke=\"#444\" stroke-dasharray=\"4 3\"/>\n");
            Text(svg, X(x) + 4, Top + 12, label, "start", 11);
        }
        return svg.Append("</svg>\n").ToString();
    }

    private void DrawAxes(StringBuilder svg, double xMin, double xMax, double yMax, Func<double, double> X, Func<double, double> Y)
    {
        foreach (var y in Ticks(0, yMax))
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{Y(y):0.##}\" x2=\"{Width - Right}\" y2=\"{Y(y):0.##}\" stroke=\"#e5e5e5\"/>\n");
            Text(svg, Left - 6, Y(y) + 4, Label(y), "end", 11);
        }
        foreach (var x in Ticks(xMin, xMax))
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(x):0.##}\" y1=\"{Height - Bottom}\" x2=\"{X(x):0.##}\" y2=\"{Height - Bottom + 5}\" stroke=\"#333\"/>\n");
            Text(svg, X(x), Height - Bottom + 18, Label(x), "middle", 11);
        }
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#333\"/>\n");
        Text(svg, (Left + Width - Right) / 2.0, Height - 12, xLabel, "middle", 12);
        svg.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(16 {(Top + Height - Bottom) / 2.0:0.##}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>\n");
    }

    /// <summary>Tick positions at a 1-2-5 step giving about five intervals over [min, max].</summary>
    internal static IEnumerable<double> Ticks(double min, double max)
    {
        var step = NiceStep((max - min) / 5);
        for (var t = Math.Ceiling(min / step - 1e-9) * step; t <= max + step * 1e-9; t += step)
        {
            yield return Math.Abs(t) < step * 1e-9 ? 0 : t;
        }
    }

    internal static double NiceStep(double raw)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        var fraction = raw / magnitude;
        return magnitude * (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10);
    }

    private static double NiceCeiling(double value)
    {
        var step = NiceStep(value / 5);
        return Math.Ceiling(value / step - 1e-9) * step;
    }

    private static string Label(double value) => NumberText.AxisLabel(value);

    private static void Text(StringBuilder svg, double x, double y, string text, string anchor, int size, bool bold = false) =>
        svg.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{x:0.##}\" y=\"{y:0.##}\" text-anchor=\"{anchor}\" font-size=\"{size}\"{(bold ? " font-weight=\"bold\"" : "")}>{Escape(text)}</text>\n");

    private static string Escape(string text) =>
        text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
