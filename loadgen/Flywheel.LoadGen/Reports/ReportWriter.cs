using System.Text;
using Flywheel.LoadGen.Running;

namespace Flywheel.LoadGen.Reports;

/// <summary>Writes every report file of a run into one folder (created if missing; files replaced).</summary>
public static class ReportWriter
{
    public const string SummaryFile = "summary.json";
    public const string RequestsFile = "requests.csv";
    public const string MarkdownFile = "report.md";

    public static void WriteAll(RunReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        File.WriteAllText(Path.Combine(directory, SummaryFile), SummaryJson.Render(report), utf8);
        using (var csv = new StreamWriter(Path.Combine(directory, RequestsFile), append: false, utf8))
        {
            RequestsCsv.Write(csv, report.AllRecords);
        }
        var plots = Plots.Render(report).ToList();
        foreach (var (file, svg) in plots)
        {
            File.WriteAllText(Path.Combine(directory, file), svg, utf8);
        }
        File.WriteAllText(Path.Combine(directory, MarkdownFile), MarkdownReport.Render(report, plots.Select(p => p.File)), utf8);
    }
}
