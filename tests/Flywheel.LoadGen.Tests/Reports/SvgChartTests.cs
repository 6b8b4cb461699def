using System.Xml.Linq;
using Flywheel.LoadGen.Reports;

namespace Flywheel.LoadGen.Tests.Reports;

public sealed class SvgChartTests
{
    [Fact]
    public void Renders_well_formed_svg_with_every_element()
    {
        var svg = new SvgChart("A <title> & more", "x", "y")
            .AddLine("series", [(0, 1), (1, 3), (2, double.NaN), (3, 2)], markers: true)
            .AddBars([(0, 1, 2), (1, 2, 5)])
            .AddMarker(1.5, "p50")
            .Render();

        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", doc.Root!.Name);
        Assert.Single(doc.Descendants(ns + "polyline"));
        Assert.Equal(3, doc.Descendants(ns + "circle").Count()); // the NaN point is dropped
        Assert.Contains(doc.Descendants(ns + "text"), t => t.Value == "A <title> & more");
        Assert.Contains(doc.Descendants(ns + "text"), t => t.Value == "p50");
    }

    [Fact]
    public void Empty_chart_says_no_data()
    {
        var doc = XDocument.Parse(new SvgChart("t", "x", "y").Render());
        Assert.Contains(doc.Descendants(), e => e.Value == "no data");
    }

    [Theory]
    [InlineData(0.0, 10.0, new[] { 0.0, 2, 4, 6, 8, 10 })]
    [InlineData(0.0, 0.9, new[] { 0.0, 0.2, 0.4, 0.6, 0.8 })]
    [InlineData(3.0, 27.0, new[] { 5.0, 10, 15, 20, 25 })]
    public void Ticks_use_1_2_5_steps(double min, double max, double[] expected)
    {
        Assert.Equal(expected, SvgChart.Ticks(min, max).Select(t => Math.Round(t, 9)));
    }
}
