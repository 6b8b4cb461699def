using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Flywheel.Benchmarks;

/// <summary>
/// A soak: mixed traffic for N minutes against a server (by default <c>flywheel serve</c> on the demo
/// model, started here on a free loopback port), printing outcome counts and the server's resident
/// memory every interval, then a verdict: no 5xx, and RSS flat (max within 10% of min) over the last
/// half. Exit code 0 when both hold. A benchmark, not a test: it takes minutes and reads the machine.
/// </summary>
internal sealed class SoakBenchmark : IBenchmark
{
    public string Name => "soak";

    public string Description => "mixed traffic for N minutes; status counts, server RSS, verdict --minutes N [--url URL [--pid PID]] [--clients 6] [--interval 30]";

    public int Run(string[] args)
    {
        double minutes = 9, interval = 30;
        int clients = 6;
        int? pid = null;
        string? url = null;
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            switch (args[i])
            {
                case "--minutes": minutes = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--interval": interval = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--clients": clients = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--url": url = value; break;
                case "--pid": pid = int.Parse(value, CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        return RunAsync(TimeSpan.FromMinutes(minutes), TimeSpan.FromSeconds(interval), clients, url, pid).GetAwaiter().GetResult();
    }

    private static async Task<int> RunAsync(TimeSpan duration, TimeSpan interval, int clientCount, string? url, int? pid)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromMinutes(2) };
        Process? server = null;
        try
        {
            Uri root;
            if (url is null)
            {
                (server, root) = await StartServerAsync(http);
                pid = server.Id;
            }
            else
            {
                root = new Uri(url.TrimEnd('/') + "/");
            }

            var model = await ModelIdAsync(http, root);
            Console.WriteLine($"soak: {clientCount} clients for {duration.TotalMinutes:0.##} min against {root} (model {model}); " +
                              "40% chat, 20% streaming, 15% streams cut after 200 bytes, 25% json_schema (new schema each time)");
            var traffic = new SoakTraffic(http, root, model);
            using var stop = new CancellationTokenSource(duration);
            var clients = Enumerable.Range(0, clientCount).Select(c => Task.Run(() => traffic.RunClientAsync(1000 + c, stop.Token))).ToArray();

            var clock = Stopwatch.StartNew();
            var samples = new List<(double Seconds, double? RssMb)>();
            long lastTotal = 0;
            while (clock.Elapsed < duration)
            {
                await Task.Delay(Min(interval, duration - clock.Elapsed + TimeSpan.FromMilliseconds(50)));
                var counts = traffic.Snapshot();
                var total = counts.Values.Sum();
                var rss = await RssMbAsync(http, root, pid);
                samples.Add((clock.Elapsed.TotalSeconds, rss));
                Console.WriteLine($"t={clock.Elapsed.TotalSeconds,5:0} s  requests {total,8:N0} (+{total - lastTotal:N0})  " +
                                  $"{string.Join("  ", counts.Select(c => $"{c.Key}: {c.Value:N0}"))}  RSS {(rss is { } r ? $"{r:0} MB" : "-")}" +
                                  await ManagedHeapAsync(http, root));
                lastTotal = total;
            }

            await Task.WhenAll(clients);
            return Verdict(traffic.Snapshot(), samples, duration);
        }
        finally
        {
            if (server is not null)
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
                server.Dispose();
            }
        }
    }

    private static int Verdict(SortedDictionary<string, long> counts, List<(double Seconds, double? RssMb)> samples, TimeSpan duration)
    {
        var serverErrors = counts.Where(c => c.Key.StartsWith('5')).Sum(c => c.Value);
        var lastHalf = samples.Where(s => s.Seconds >= duration.TotalSeconds / 2 && s.RssMb is not null).Select(s => s.RssMb!.Value).ToList();
        Console.WriteLine($"total: {counts.Values.Sum():N0} requests; {string.Join(", ", counts.Select(c => $"{c.Key}: {c.Value:N0}"))}");
        Console.WriteLine($"5xx: {serverErrors:N0} ({(serverErrors == 0 ? "pass" : "FAIL")})");
        bool flat;
        if (lastHalf.Count < 2)
        {
            flat = false;
            Console.WriteLine("RSS: fewer than two samples over the last half (run longer, or give --pid with --url): no verdict");
        }
        else
        {
            var (low, high) = (lastHalf.Min(), lastHalf.Max());
            var spread = (high - low) / low;
            flat = spread <= 0.10;
            Console.WriteLine($"RSS over the last half: {low:0}-{high:0} MB, spread {spread * 100:0.#}% of the lowest ({(flat ? "flat, pass" : "not flat, FAIL")})");
        }

        return serverErrors == 0 && flat ? 0 : 1;
    }

    /// <summary>Starts <c>./flywheel serve</c> (demo model) on a free loopback port; waits until ready (the first run builds).</summary>
    private static async Task<(Process, Uri)> StartServerAsync(HttpClient http)
    {
        var repo = RepositoryRoot();
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var logPath = Path.Combine(repo, "artifacts", "soak-server.log");
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var start = new ProcessStartInfo("bash", [Path.Combine(repo, "flywheel"), "serve", "--port", port.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = repo,
        };
        var process = Process.Start(start)!;
        var log = TextWriter.Synchronized(new StreamWriter(logPath) { AutoFlush = true });
        process.OutputDataReceived += (_, e) => log.WriteLine(e.Data);
        process.ErrorDataReceived += (_, e) => log.WriteLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Console.WriteLine($"soak: starting ./flywheel serve on 127.0.0.1:{port} (server log: {logPath})");

        var root = new Uri($"http://127.0.0.1:{port}/");
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(15))
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the server exited with code {process.ExitCode}; see {logPath}");
            }

            try
            {
                using var ready = await http.GetAsync(new Uri(root, "health/ready"));
                if (ready.IsSuccessStatusCode)
                {
                    return (process, root);
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet (still building or loading)
            }

            await Task.Delay(500);
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException($"the server was not ready within 15 minutes; see {logPath}");
    }

    private static async Task<string> ModelIdAsync(HttpClient http, Uri root)
    {
        using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri(root, "v1/models")));
        return document.RootElement.GetProperty("data")[0].GetProperty("id").GetString()!;
    }

    /// <summary>VmRSS of <paramref name="pid"/> from /proc, else the server's process_resident_memory_bytes metric, else null.</summary>
    private static async Task<double?> RssMbAsync(HttpClient http, Uri root, int? pid)
    {
        if (pid is { } p && File.Exists($"/proc/{p}/status"))
        {
            var line = File.ReadLines($"/proc/{p}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            if (line is not null && double.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture, out var kb))
            {
                return kb / 1024;
            }
        }

        try
        {
            var metrics = await http.GetStringAsync(new Uri(root, "metrics"));
            var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("process_resident_memory_bytes ", StringComparison.Ordinal));
            return line is not null && double.TryParse(line.Split(' ')[1], CultureInfo.InvariantCulture, out var bytes) ? bytes / (1 << 20) : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>
    /// The managed heap and gen-2 collections from the server's /metrics when it has them (both the
    /// hand-written exporter's and prometheus-net's names), to tell retained memory from uncollected garbage.
    /// </summary>
    private static async Task<string> ManagedHeapAsync(HttpClient http, Uri root)
    {
        try
        {
            var lines = (await http.GetStringAsync(new Uri(root, "metrics"))).Split('\n');
            double? Value(params string[] prefixes) =>
                lines.Where(l => prefixes.Any(p => l.StartsWith(p, StringComparison.Ordinal)))
                    .Select(l => double.TryParse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture, out var v) ? v : (double?)null)
                    .FirstOrDefault(v => v is not null);
            var heap = Value("dotnet_gc_heap_size_bytes ", "dotnet_total_memory_bytes ");
            var gen2 = Value("dotnet_gc_collections_total{generation=\"2\"}", "dotnet_collection_count_total{generation=\"2\"}");
            return (heap is { } h ? $"  managed heap {h / (1 << 20):0} MB" : "") + (gen2 is { } g ? $"  gen2 GCs {g:0}" : "");
        }
        catch (HttpRequestException)
        {
            return "";
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Flywheel.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("cannot find the repository (Flywheel.sln) above " + AppContext.BaseDirectory);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
