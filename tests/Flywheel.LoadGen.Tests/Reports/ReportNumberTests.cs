using System.Xml.Linq;
using Flywheel.LoadGen.Client;
using Flywheel.LoadGen.Reports;
using Flywheel.LoadGen.Running;
using Flywheel.LoadGen.Stats;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Tests.Reports;

/// <summary>Numbers in the report keep what they mean: sub-millisecond latencies keep their digits, axes read "20k".</summary>
public sealed class ReportNumberTests
{
    [Fact]
    public void Sub_millisecond_latencies_keep_their_decimals_in_the_tables()
    {
        // Gaps of 40-60 µs, as a fast server's inter-token latency is.
        var records = Enumerable.Range(0, 4).Select(i => new RequestRecord
        {
            Index = i,
            StartSeconds = i,
            Success = true,
            Endpoint = ApiEndpoint.Chat,
            PlannedPromptTokens = 8,
            PlannedOutputTokens = 4,
            OutputTokens = 4,
            TtftSeconds = 0.0123,
            E2eSeconds = 0.0125,
            ItlSeconds = [0.00004, 0.00005, 0.00006],
            ContentChunkCount = 4,
        }).ToList();
        var summary = RunSummary.Compute(records, SloOptions.None);
        var phase = new PhaseReport("run", 0, "closed loop", null, 1, records, summary, null, null);

        var tables = MarkdownReport.PhaseTables(phase);

        Assert.Contains("| ITL | 0.05 | 0.05 |", tables);
        Assert.Contains("| TTFT | 12.3 | 12.3 |", tables);
    }

    [Fact]
    public void Axis_labels_use_k_and_M_instead_of_exponents()
    {
        var svg = new SvgChart("tokens", "time (s)", "tokens/s")
            .AddLine("rate", [(0, 0), (1, 12_000), (2, 20_000)])
            .Render();

        var labels = XDocument.Parse(svg).Descendants(XName.Get("text", "http://www.w3.org/2000/svg")).Select(t => t.Value).ToList();
        Assert.Contains("20k", labels);
        Assert.Contains("10k", labels);
        Assert.DoesNotContain(labels, l => l.Contains("E+", StringComparison.Ordinal) || l.Contains("E-", StringComparison.Ordinal));
    }
}
