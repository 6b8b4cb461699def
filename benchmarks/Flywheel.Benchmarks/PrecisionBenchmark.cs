using System.Diagnostics;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Tokenization;

namespace Flywheel.Benchmarks;

/// <summary>
/// fp32 against int4 (MatMulNBits, block 32, accuracy level 4) and fp16 on the same shape and seed: single-stream decode
/// tokens/s of <see cref="TextGenerator"/>, rounds alternating between the two folders because this machine is
/// shared and noisy, plus each folder's model.onnx size and the process's resident memory growth when it loads.
/// CPU decode streams every weight once per token, so the int4 folder should decode faster. fp16 is the CUDA
/// format: on the CPU provider its MatMuls run in fp32 between inserted casts (docs/decisions/fp16-precision.md).
/// model.onnx.data, where a folder has one, counts in its size.
/// </summary>
internal sealed class PrecisionBenchmark : IBenchmark
{
    public string Name => "precision";

    public string Description => "decode tokens/s and size: fp32 vs int4 vs fp16 of the bench preset [--tokens N] [--rounds N] [--preset tiny|bench|small|medium]";

    public int Run(string[] args)
    {
        int tokens = 256, rounds = 5;
        var preset = "bench";
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--tokens": tokens = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--preset": preset = args[i + 1]; break;
                default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
            }
        }

        var options = ModelBuilderOptions.Preset(preset);
        var folders = new[] { ModelPrecision.Fp32, ModelPrecision.Int4, ModelPrecision.Fp16 }.Select(p => (Precision: p, Dir: Folder(options with { Precision = p }, preset))).ToArray();
        var loaded = new List<(ModelPrecision Precision, ModelFolder Model, TextGenerator Generator)>();
        foreach (var (precision, dir) in folders)
        {
            var before = Process.GetCurrentProcess().WorkingSet64;
            var model = ModelFolder.Open(dir);
            var generator = new TextGenerator(model, Tokenizer.Load(model.TokenizerPath));
            generator.Generate([1, 10, 20, 30], new GenerateParams { MaxTokens = 16, IgnoreEos = true });
            var grown = Process.GetCurrentProcess().WorkingSet64 - before;
            var data = new FileInfo(Path.Combine(dir, ModelFolderWriter.ExternalDataFileName));
            Console.WriteLine($"{precision}: {dir}: model.onnx {new FileInfo(Path.Combine(dir, "model.onnx")).Length / 1e6:F1} MB{(data.Exists ? $" + {data.Name} {data.Length / 1e6:F1} MB" : "")}, " +
                $"{LlamaModelBuilder.MixedFileName} {new FileInfo(Path.Combine(dir, LlamaModelBuilder.MixedFileName)).Length / 1e6:F1} MB; resident memory +{grown / 1e6:F0} MB after loading and 16 tokens");
            loaded.Add((precision, model, generator));
        }

        var rates = loaded.ToDictionary(l => l.Precision, _ => new List<double>());
        for (var r = 0; r < rounds; r++)
        {
            foreach (var (precision, _, generator) in loaded)
            {
                var result = generator.Generate([1, 10, 20, 30], new GenerateParams { MaxTokens = tokens + 1, IgnoreEos = true });
                rates[precision].Add(result.DecodeTokensPerSecond);
            }

            Console.WriteLine($"  round {r + 1}: " + string.Join(", ", rates.Select(kv => $"{kv.Key} {kv.Value[^1]:F1} tok/s")));
        }

        var (fp32, int4) = (BenchStats.Median(rates[ModelPrecision.Fp32]), BenchStats.Median(rates[ModelPrecision.Int4]));
        var fp16 = BenchStats.Median(rates[ModelPrecision.Fp16]);
        Console.WriteLine($"median single-stream decode tokens/s ({tokens} tokens): fp32 {fp32:F1}, int4 {int4:F1}, fp16 {fp16:F1}; int4/fp32 {int4 / fp32:F2}x, fp16/fp32 {fp16 / fp32:F2}x");
        foreach (var (_, model, generator) in loaded)
        {
            generator.Dispose();
            model.Dispose();
        }

        return 0;
    }

    private static string Folder(ModelBuilderOptions options, string preset)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"flywheel-bench-{preset}-{options.Precision.ToString().ToLowerInvariant()}");
        if (!File.Exists(Path.Combine(dir, "genai_config.json")))
        {
            Console.WriteLine($"building {preset} {options.Precision} into {dir}");
            ModelFolderWriter.Write(dir, options, null, SyntheticTokenizer.Write);
        }

        return dir;
    }
}
