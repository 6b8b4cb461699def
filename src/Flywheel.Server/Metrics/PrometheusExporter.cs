using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Flywheel.Server.Metrics;

/// <summary>
/// Aggregates the measurements of one <see cref="Meter"/> and renders them in the Prometheus text
/// exposition format (version 0.0.4): counters as <c>NAME_total</c>, gauges, and histograms as cumulative
/// <c>_bucket{le}</c> series ending in <c>+Inf</c>, with <c>_sum</c> and <c>_count</c>; plus process metrics.
/// Recording is thread-safe; a scrape collects observable instruments first.
/// </summary>
public sealed class PrometheusExporter : IDisposable
{
    private static readonly double[] DefaultBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, InstrumentState> _instruments = new();
    private readonly IReadOnlyDictionary<string, double[]> _buckets;
    private readonly object _scrapeLock = new();

    public PrometheusExporter(Meter meter, IReadOnlyDictionary<string, double[]>? buckets = null)
    {
        _buckets = buckets ?? new Dictionary<string, double[]>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter))
            {
                _instruments[instrument] = new InstrumentState(instrument, _buckets.GetValueOrDefault(instrument.Name) ?? DefaultBuckets);
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The current exposition text.</summary>
    public string Scrape()
    {
        lock (_scrapeLock)
        {
            _listener.RecordObservableInstruments();
            var text = new StringBuilder();
            foreach (var state in _instruments.Values.OrderBy(s => s.Instrument.Name, StringComparer.Ordinal))
            {
                state.Render(text);
            }

            ProcessMetrics(text);
            return text.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_instruments.TryGetValue(instrument, out var state))
        {
            state.Record(value, tags);
        }
    }

    private static void ProcessMetrics(StringBuilder text)
    {
        using var process = Process.GetCurrentProcess();
        Metric(text, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", process.TotalProcessorTime.TotalSeconds);
        Metric(text, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", process.WorkingSet64);
        Metric(text, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", new DateTimeOffset(process.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0);
        text.Append("# HELP dotnet_gc_collections_total Garbage collections by generation.\n# TYPE dotnet_gc_collections_total counter\n");
        for (var g = 0; g <= GC.MaxGeneration; g++)
        {
            text.Append("dotnet_gc_collections_total{generation=\"").Append(g).Append("\"} ").Append(GC.CollectionCount(g)).Append('\n');
        }

        Metric(text, "dotnet_gc_heap_size_bytes", "gauge", "Bytes in the managed heap.", GC.GetTotalMemory(false));
    }

    private static void Metric(StringBuilder text, string name, string type, string help, double value) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n')
            .Append(name).Append(' ').Append(Format(value)).Append('\n');

    internal static string Format(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : double.IsNegativeInfinity(value) ? "-Inf" : double.IsNaN(value) ? "NaN" : value.ToString("R", CultureInfo.InvariantCulture);

    internal static string EscapeLabel(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeHelp(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>One instrument's series, keyed by their rendered label set.</summary>
    private sealed class InstrumentState(Instrument instrument, double[] buckets)
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);

        public Instrument Instrument { get; } = instrument;

        private string Kind => Instrument switch
        {
            Histogram<long> or Histogram<double> or Histogram<int> => "histogram",
            ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double> or UpDownCounter<long> or UpDownCounter<double> or ObservableUpDownCounter<long> or ObservableUpDownCounter<double> => "gauge",
            _ => "counter",
        };

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var labels = Labels(tags);
            var series = _series.GetOrAdd(labels, _ => new Series(buckets.Length));
            lock (series)
            {
                switch (Kind)
                {
                    case "histogram":
                        var index = Array.FindIndex(buckets, b => value <= b);
                        series.BucketCounts[index < 0 ? buckets.Length : index]++;
                        series.Sum += value;
                        series.Count++;
                        break;
                    case "gauge" when Instrument is ObservableGauge<long> or ObservableGauge<int> or ObservableGauge<double>:
                        series.Value = value;
                        break;
                    case "counter" when Instrument.IsObservable:
                        series.Value = value; // observable counters report the running total
                        break;
                    default:
                        series.Value += value;
                        break;
                }
            }
        }

        public void Render(StringBuilder text)
        {
            var kind = Kind;
            var name = kind == "counter" && !Instrument.Name.EndsWith("_total", StringComparison.Ordinal) ? Instrument.Name + "_total" : Instrument.Name;
            text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(Instrument.Description ?? Instrument.Name)).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(kind).Append('\n');
            foreach (var (labels, series) in _series.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                lock (series)
                {
                    if (kind != "histogram")
                    {
                        text.Append(name).Append(Braces(labels)).Append(' ').Append(Format(series.Value)).Append('\n');
                        continue;
                    }

                    long cumulative = 0;
                    for (var b = 0; b <= buckets.Length; b++)
                    {
                        cumulative += series.BucketCounts[b];
                        var le = b < buckets.Length ? Format(buckets[b]) : "+Inf";
                        var all = labels.Length == 0 ? $"le=\"{le}\"" : $"{labels},le=\"{le}\"";
                        text.Append(name).Append("_bucket{").Append(all).Append("} ").Append(cumulative).Append('\n');
                    }

                    text.Append(name).Append("_sum").Append(Braces(labels)).Append(' ').Append(Format(series.Sum)).Append('\n');
                    text.Append(name).Append("_count").Append(Braces(labels)).Append(' ').Append(series.Count).Append('\n');
                }
            }
        }

        private static string Braces(string labels) => labels.Length == 0 ? "" : "{" + labels + "}";

        private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return "";
            }

            var pairs = new List<KeyValuePair<string, object?>>(tags.ToArray());
            pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            return string.Join(",", pairs.Select(p => $"{p.Key}=\"{EscapeLabel(Convert.ToString(p.Value, CultureInfo.InvariantCulture) ?? "")}\""));
        }
    }

    private sealed class Series(int bucketCount)
    {
        public double Value { get; set; }

        public long[] BucketCounts { get; } = new long[bucketCount + 1];

        public double Sum { get; set; }

        public long Count { get; set; }
    }
}
