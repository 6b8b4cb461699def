using System.Diagnostics;
using Flywheel.Adapters;

namespace Flywheel.Benchmarks;

/// <summary>
/// The cost of reading a model folder's adapter shape (<see cref="AdapterBaseShape.FromModelFolder"/>), which
/// every adapter load and <c>make-adapter</c> pays: the first call (cold in this process), the median of the
/// rest, managed bytes allocated per call, and the process's peak working set before and after. Run it in a
/// fresh process: the peak is the process's whole life.
/// </summary>
internal sealed class AdapterShapeBenchmark : IBenchmark
{
    public string Name => "adapter-shape";

    public string Description => "time and memory of reading a folder's LoRA base shape [--model DIR (bench preset)] [--passes N]";

    public int Run(string[] args)
    {
        var at = Array.IndexOf(args, "--model");
        var model = BenchModel.FolderOrDefault(at >= 0 && at + 1 < args.Length ? args[at + 1] : null);
        at = Array.IndexOf(args, "--passes");
        var passes = at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var files = Directory.GetFiles(model, "model.onnx*").Sum(f => new FileInfo(f).Length);
        using var process = Process.GetCurrentProcess();
        var peakBefore = process.PeakWorkingSet64;

        var seconds = new List<double>();
        var allocated = new List<long>();
        AdapterBaseShape? shape = null;
        for (var pass = 0; pass < passes; pass++)
        {
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            shape = AdapterBaseShape.FromModelFolder(model);
            seconds.Add(clock.Elapsed.TotalSeconds);
            allocated.Add(GC.GetAllocatedBytesForCurrentThread() - bytes);
        }

        process.Refresh();
        Console.WriteLine($"{model}: model.onnx* {files / 1e6:F1} MB; {shape}");
        Console.WriteLine($"adapter shape: first {seconds[0] * 1e3:F2} ms, median of the rest {BenchStats.Median(seconds.Skip(1).DefaultIfEmpty(seconds[0]).ToList()) * 1e3:F2} ms, " +
            $"{allocated.Max() / 1e6:F2} MB allocated per call (most), peak working set {peakBefore / 1e6:F0} MB before, {process.PeakWorkingSet64 / 1e6:F0} MB after");
        return 0;
    }
}
