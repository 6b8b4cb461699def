using System.Text.Json;
using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Models.Import;

namespace Flywheel.Engine.Tests.Models.Import;

/// <summary>
/// <c>flywheel import --lora</c>: a tiny random checkpoint imported with the LoRA-capable graph serves a PEFT
/// adapter written for it. In one Run, a row on the adapter matches the double-precision reference over the
/// checkpoint's weights with the adapter merged in, W + s * (B A)^T, and a row on the base matches the base.
/// The merge is done here from the adapter's own tensors (for Phi-3, the fused qkv_proj / gate_up_proj
/// tensors PEFT writes for it, merged into the fused matrix and then split), not by the loader's code.
/// </summary>
public sealed class HfImportLoraTests
{
    private const double Tolerance = 1e-4;
    internal const int Rank = 4;
    internal const double Alpha = 8;

    [Theory]
    [InlineData("LlamaForCausalLM", "F32", new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" })]
    [InlineData("Qwen2ForCausalLM", "BF16", new[] { "q_proj", "v_proj", "down_proj" })]
    [InlineData("Qwen3ForCausalLM", "F16", new[] { "q_proj", "k_proj", "o_proj", "up_proj" })]
    [InlineData("Phi3ForCausalLM", "BF16", new[] { "qkv_proj", "o_proj", "gate_up_proj", "down_proj" })]
    public void AnAdapterOnAnImportedCheckpointMatchesTheMergedReference(string architecture, string adapterDtype, string[] modules)
    {
        var checkpoint = TinyCheckpoint.Write(architecture, "BF16", sharded: false, tied: false);
        var output = checkpoint.Dir + "-lora";
        HfImporter.Import(checkpoint.Dir, output, loraTargets: LoraTargets.All);
        var adapterDir = output + "-adapter";
        // Qwen3's head_dim (32) makes q and o_proj's input 128 wide, not hidden (64).
        var headSize = architecture == "Qwen3ForCausalLM" ? 32 : TinyCheckpoint.Hidden / TinyCheckpoint.Heads;
        var tensors = WriteAdapter(adapterDir, modules, adapterDtype, headSize, seed: architecture.Length);

        var config = GenAiConfig.Load(Path.Combine(output, "genai_config.json"));
        var adapter = PeftAdapter.Load(adapterDir, AdapterBaseShape.FromModelFolder(output), maxRank: 8);
        var baseReference = new ReferenceModel(checkpoint.ReferenceWeights, config, TinyCheckpoint.Epsilon);
        var adapted = new ReferenceModel(Merge(checkpoint.ReferenceWeights, tensors, Alpha / Rank), config, TinyCheckpoint.Epsilon);

        using var rows = new AdapterRowRunner(output, config, adapter);
        var runner = rows.Runner;

        // Row 0 on the adapter (slot 1), row 1 on the base (slot 0), the same prompt, in every Run.
        int[] prompt = [1, 40, 7, 300, 12, 99, 5];
        var ids = prompt.Concat(prompt).Select(t => (long)t).ToArray();
        var logits = runner.Run(0, 2, prompt.Length, ids, [0, 0], [prompt.Length, prompt.Length], [1, 0]).ToArray();
        var (expectedAdapted, expectedBase) = (adapted.Forward(prompt), baseReference.Forward(prompt));
        Assert.True(RelativeError(expectedBase[^1], expectedAdapted[^1]) > 1e-2, "the adapter must change the logits for this test to mean anything");
        var vocab = TinyCheckpoint.Vocab;
        for (var t = 0; t < prompt.Length; t++)
        {
            AssertClose(expectedAdapted[t], logits.AsSpan(t * vocab, vocab), $"adapter row, position {t}");
            AssertClose(expectedBase[t], logits.AsSpan((prompt.Length + t) * vocab, vocab), $"base row, position {t}");
        }

        var past = prompt.Length;
        foreach (var token in new[] { 17, 250 })
        {
            var step = runner.Run(0, 2, 1, [token, token], [past, past], [1, 1], [1, 0]).ToArray();
            AssertClose(adapted.Forward([token])[0], step.AsSpan(0, vocab), $"adapter row, decode at {past}");
            AssertClose(baseReference.Forward([token])[0], step.AsSpan(vocab, vocab), $"base row, decode at {past}");
            past++;
        }
    }

    [Fact]
    public void Fp16WithLoraIsRefusedNamingBothFlags()
    {
        var checkpoint = TinyCheckpoint.Write("LlamaForCausalLM", "F32", sharded: false, tied: false);
        var e = Assert.Throws<ArgumentException>(() => HfImporter.Import(checkpoint.Dir, checkpoint.Dir + "-fp16-lora", ModelPrecision.Fp16, loraTargets: [LoraTarget.QProj]));
        Assert.Contains("--lora", e.Message);
        Assert.Contains("--precision fp16", e.Message);
        Assert.False(Directory.Exists(checkpoint.Dir + "-fp16-lora"));
    }

    /// <summary>
    /// A PEFT adapter folder as save_pretrained writes it for <paramref name="modules"/>: lora_A [r, in] and lora_B
    /// [out, r] per module and layer, a fused module's out being its parts' outputs together. Returns the tensors
    /// (values as stored) by key.
    /// </summary>
    internal static Dictionary<string, (float[] Values, long[] Shape)> WriteAdapter(string dir, string[] modules, string dtype, int headSize, int seed)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["peft_type"] = "LORA",
            ["r"] = Rank,
            ["lora_alpha"] = Alpha,
            ["target_modules"] = modules,
            ["bias"] = "none",
            ["use_rslora"] = false,
            ["use_dora"] = false,
            ["task_type"] = "CAUSAL_LM",
        }));
        var random = new Random(seed);
        var written = new List<Flywheel.Models.Import.SafetensorsWriter.Tensor>();
        var tensors = new Dictionary<string, (float[], long[])>(StringComparer.Ordinal);
        for (var layer = 0; layer < TinyCheckpoint.Layers; layer++)
        {
            foreach (var module in modules)
            {
                var (inCount, outCount) = Dimensions(module, headSize);
                var block = module is "gate_proj" or "up_proj" or "down_proj" or "gate_up_proj" ? "mlp" : "self_attn";
                var prefix = $"base_model.model.model.layers.{layer}.{block}.{module}";
                foreach (var (half, shape, bound) in new[] { ("lora_A", new long[] { Rank, inCount }, 1 / Math.Sqrt(inCount)), ("lora_B", [outCount, Rank], 0.5 / Math.Sqrt(Rank)) })
                {
                    var values = new float[shape[0] * shape[1]];
                    for (var i = 0; i < values.Length; i++)
                    {
                        var v = (float)(((random.NextDouble() * 2) - 1) * bound);
                        values[i] = dtype switch { "BF16" => Flywheel.Models.Import.SafetensorsWriter.RoundToBFloat16(v), "F16" => (float)(Half)v, _ => v };
                    }

                    written.Add(new($"{prefix}.{half}.weight", dtype, shape, values));
                    tensors[$"{prefix}.{half}.weight"] = (values, shape);
                }
            }
        }

        Flywheel.Models.Import.SafetensorsWriter.Write(Path.Combine(dir, "adapter_model.safetensors"), written, new Dictionary<string, string> { ["format"] = "pt" });
        return tensors;
    }

    /// <summary>(in, out) of a module of the tiny checkpoint; fused modules' out is their parts' together.</summary>
    private static (int In, int Out) Dimensions(string module, int headSize)
    {
        int q = TinyCheckpoint.Heads * headSize, kv = TinyCheckpoint.KvHeads * headSize, i = TinyCheckpoint.Intermediate;
        return module switch
        {
            "q_proj" => (TinyCheckpoint.Hidden, q),
            "o_proj" => (q, TinyCheckpoint.Hidden),
            "k_proj" or "v_proj" => (TinyCheckpoint.Hidden, kv),
            "gate_proj" or "up_proj" => (TinyCheckpoint.Hidden, i),
            "down_proj" => (i, TinyCheckpoint.Hidden),
            "qkv_proj" => (TinyCheckpoint.Hidden, q + kv + kv),
            "gate_up_proj" => (TinyCheckpoint.Hidden, i + i),
            _ => throw new ArgumentOutOfRangeException(nameof(module)),
        };
    }

    /// <summary>
    /// The reference's weights (graph names, [in, out]) plus scale * (B A)^T of every adapted module: the delta
    /// [out, in] of a fused module is computed whole, and its rows go to the parts in order (q, k, v; gate, up).
    /// </summary>
    internal static Dictionary<string, double[]> Merge(Dictionary<string, double[]> weights, Dictionary<string, (float[] Values, long[] Shape)> tensors, double scale)
    {
        var merged = new Dictionary<string, double[]>(weights);
        foreach (var (key, (a, aShape)) in tensors.Where(t => t.Key.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            var prefix = key[..^".lora_A.weight".Length];
            var b = tensors[prefix + ".lora_B.weight"].Values;
            var layer = int.Parse(prefix.Split('.')[4], System.Globalization.CultureInfo.InvariantCulture);
            var module = prefix[(prefix.LastIndexOf('.') + 1)..];
            int r = (int)aShape[0], n = (int)aShape[1], outTotal = b.Length / r;
            string[] parts = module switch
            {
                "qkv_proj" => [LlamaWeightNames.Q(layer), LlamaWeightNames.K(layer), LlamaWeightNames.V(layer)],
                "gate_up_proj" => [LlamaWeightNames.Gate(layer), LlamaWeightNames.Up(layer)],
                "q_proj" => [LlamaWeightNames.Q(layer)],
                "k_proj" => [LlamaWeightNames.K(layer)],
                "v_proj" => [LlamaWeightNames.V(layer)],
                "o_proj" => [LlamaWeightNames.O(layer)],
                "gate_proj" => [LlamaWeightNames.Gate(layer)],
                "up_proj" => [LlamaWeightNames.Up(layer)],
                _ => [LlamaWeightNames.Down(layer)],
            };
            var row = 0;
            foreach (var part in parts)
            {
                var w = (double[])merged[part].Clone();
                var m = w.Length / n;
                for (var o = 0; o < m; o++, row++)
                {
                    for (var i = 0; i < n; i++)
                    {
                        var sum = 0.0;
                        for (var k = 0; k < r; k++)
                        {
                            sum += (double)b[(row * r) + k] * a[(k * n) + i];
                        }

                        w[(i * m) + o] += scale * sum;
                    }
                }

                merged[part] = w;
            }

            Assert.Equal(outTotal, row);
        }

        return merged;
    }

    internal static double RelativeError(double[] expected, double[] actual)
    {
        double maxDiff = 0, maxRef = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(expected[i] - actual[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }

        return maxDiff / maxRef;
    }

    private static void AssertClose(double[] expected, ReadOnlySpan<float> actual, string what)
    {
        var error = RelativeError(expected, Array.ConvertAll(actual.ToArray(), v => (double)v));
        Assert.True(error < Tolerance, $"{what}: relative error {error:E2}");
    }
}
