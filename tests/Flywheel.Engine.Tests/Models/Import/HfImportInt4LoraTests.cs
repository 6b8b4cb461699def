using Flywheel.Adapters;
using Flywheel.Engine.Tests.Models.Reference;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Models.Import;
using Xunit.Abstractions;

namespace Flywheel.Engine.Tests.Models.Import;

/// <summary>
/// <c>flywheel import --precision int4 --lora</c>: the base projections are MatMulNBits and the adapter's delta
/// is float MatMuls beside them, so the adapted row's logits are not the merged fp32 model's. The reference is
/// what the graph claims to compute: the int4 weights read back from the graph and dequantized as the op defines
/// them (checked here to be the checkpoint's weights rounded to 4 bits), each projection's input rounded to int8
/// per block where accuracy level 4 asks MatMulNBits to, plus the adapter's delta in double precision on the
/// unrounded input, from the adapter's own tensors. Merging the delta into the dequantized weights would not
/// do at level 4: it rounds the delta's input too, and that small change moves downstream int8 roundings,
/// measured 1.5e-2 off on the Phi-3 case (as far as ignoring the rounding altogether). In one Run, the adapter row matches that reference, the base
/// row matches the same reference without the delta, and the difference of the two rows (the adapter's whole
/// effect) matches the reference's difference.
/// </summary>
public sealed class HfImportInt4LoraTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;
    private const int BlockSize = 32;

    // The adapter's effect (adapter row minus base row), compared on its own: its error is the logits' float
    // error (measured under 1e-6 of the logits) over an effect of at least 1e-2 of them (asserted), so 1e-4 of
    // the effect's largest value holds; measured 1.4e-6.
    private const double EffectTolerance = 1e-4;

    [Theory]
    [InlineData("LlamaForCausalLM", 0, new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" })]
    [InlineData("Phi3ForCausalLM", 4, new[] { "qkv_proj", "o_proj", "gate_up_proj", "down_proj" })]
    public void AnAdapterOnAnInt4ImportAddsItsExactDeltaToTheQuantizedBase(string architecture, int accuracyLevel, string[] modules)
    {
        var checkpoint = TinyCheckpoint.Write(architecture, "BF16", sharded: false, tied: false);
        var folder = checkpoint.Dir + $"-int4-acc{accuracyLevel}-lora";
        HfImporter.Import(checkpoint.Dir, folder, ModelPrecision.Int4, BlockSize, accuracyLevel, loraTargets: LoraTargets.All);
        var config = GenAiConfig.Load(Path.Combine(folder, "genai_config.json"));
        var headSize = TinyCheckpoint.Hidden / TinyCheckpoint.Heads;
        var quantized = ReferenceModel.ReadWeights(Path.Combine(folder, "model.onnx"));
        AssertQuantizedFromTheCheckpoint(checkpoint.ReferenceWeights, quantized, headSize);

        var adapterDir = folder + "-adapter";
        var tensors = HfImportLoraTests.WriteAdapter(adapterDir, modules, "F32", headSize, seed: architecture.Length + accuracyLevel);
        var zeros = quantized.ToDictionary(w => w.Key, w => new double[w.Value.Length]);
        var deltas = HfImportLoraTests.Merge(zeros, tensors, HfImportLoraTests.Alpha / HfImportLoraTests.Rank).Where(d => d.Value.Any(v => v != 0)).ToDictionary();
        int? int8Block = accuracyLevel == 4 ? BlockSize : null;
        var baseReference = new ReferenceModel(quantized, config, TinyCheckpoint.Epsilon) { Int8ActivationBlock = int8Block };
        var adapted = new ReferenceModel(quantized, config, TinyCheckpoint.Epsilon) { Int8ActivationBlock = int8Block, Deltas = deltas };

        var adapter = PeftAdapter.Load(adapterDir, AdapterBaseShape.FromModelFolder(folder), maxRank: 8);
        using var rows = new AdapterRowRunner(folder, config, adapter);
        var runner = rows.Runner;

        // Row 0 on the adapter (slot 1), row 1 on the base (slot 0), the same tokens, in every Run.
        int[] prompt = [1, 40, 7, 300, 12, 99, 5];
        var vocab = TinyCheckpoint.Vocab;
        var ids = prompt.Concat(prompt).Select(t => (long)t).ToArray();
        var logits = runner.Run(0, 2, prompt.Length, ids, [0, 0], [prompt.Length, prompt.Length], [1, 0]).ToArray();
        var (expectedAdapted, expectedBase) = (adapted.Forward(prompt), baseReference.Forward(prompt));
        Assert.True(HfImportLoraTests.RelativeError(expectedBase[^1], expectedAdapted[^1]) > 1e-2, "the adapter must change the logits for this test to mean anything");
        var worst = (Adapted: 0.0, Base: 0.0, Effect: 0.0);
        void Check(double[] wantAdapted, double[] wantBase, ReadOnlySpan<float> gotAdapted, ReadOnlySpan<float> gotBase, string where)
        {
            var (a, b) = (ToDoubles(gotAdapted), ToDoubles(gotBase));
            var errors = (HfImportLoraTests.RelativeError(wantAdapted, a), HfImportLoraTests.RelativeError(wantBase, b), HfImportLoraTests.RelativeError(Minus(wantAdapted, wantBase), Minus(a, b)));
            worst = (Math.Max(worst.Adapted, errors.Item1), Math.Max(worst.Base, errors.Item2), Math.Max(worst.Effect, errors.Item3));
            Assert.True(errors.Item1 < Tolerance, $"adapter row, {where}: relative error {errors.Item1:E2}");
            Assert.True(errors.Item2 < Tolerance, $"base row, {where}: relative error {errors.Item2:E2}");
            Assert.True(errors.Item3 < EffectTolerance, $"the adapter's effect, {where}: relative error {errors.Item3:E2}");
        }

        for (var t = 0; t < prompt.Length; t++)
        {
            Check(expectedAdapted[t], expectedBase[t], logits.AsSpan(t * vocab, vocab), logits.AsSpan((prompt.Length + t) * vocab, vocab), $"prompt position {t}");
        }

        var past = prompt.Length;
        foreach (var token in new[] { 17, 250 })
        {
            var step = runner.Run(0, 2, 1, [token, token], [past, past], [1, 1], [1, 0]).ToArray();
            Check(adapted.Forward([token])[0], baseReference.Forward([token])[0], step.AsSpan(0, vocab), step.AsSpan(vocab, vocab), $"decode at {past}");
            past++;
        }

        output.WriteLine($"{architecture}, accuracy level {accuracyLevel}: max relative error adapter row {worst.Adapted:E2}, base row {worst.Base:E2}, adapter's effect {worst.Effect:E2}");
    }

    /// <summary>
    /// Each projection the graph holds is the checkpoint's, rounded to 4 bits per block of <see cref="BlockSize"/>
    /// rows of a column: within one step (the block's largest magnitude / 8; half a step from rounding, a whole
    /// one where the extreme opposite the scale's sign clamps to code 15) and not equal (it was quantized).
    /// </summary>
    private static void AssertQuantizedFromTheCheckpoint(Dictionary<string, double[]> checkpoint, Dictionary<string, double[]> quantized, int headSize)
    {
        var names = Enumerable.Range(0, TinyCheckpoint.Layers)
            .SelectMany(l => new[] { LlamaWeightNames.Q(l), LlamaWeightNames.K(l), LlamaWeightNames.V(l), LlamaWeightNames.O(l), LlamaWeightNames.Gate(l), LlamaWeightNames.Up(l), LlamaWeightNames.Down(l) })
            .Append(LlamaWeightNames.LmHead);
        foreach (var name in names)
        {
            var (w, q) = (checkpoint[name], quantized[name]);
            Assert.Equal(w.Length, q.Length);
            var k = name.Contains("o_proj", StringComparison.Ordinal) ? TinyCheckpoint.Heads * headSize : name.Contains("down_proj", StringComparison.Ordinal) ? TinyCheckpoint.Intermediate : TinyCheckpoint.Hidden;
            var n = w.Length / k;
            var moved = false;
            for (var col = 0; col < n; col++)
            {
                for (var start = 0; start < k; start += BlockSize)
                {
                    var rows = Enumerable.Range(start, Math.Min(BlockSize, k - start)).Select(row => (row * n) + col).ToArray();
                    var step = rows.Max(i => Math.Abs(w[i])) / 8;
                    foreach (var i in rows)
                    {
                        Assert.True(Math.Abs(q[i] - w[i]) <= step * (1 + 1e-6), $"{name}[{i / n}, {col}]: {q[i]} is not {w[i]} rounded to int4 (step {step})");
                        moved |= q[i] != w[i];
                    }
                }
            }

            Assert.True(moved, $"{name} is not quantized");
        }
    }

    private static double[] ToDoubles(ReadOnlySpan<float> values) => Array.ConvertAll(values.ToArray(), v => (double)v);

    private static double[] Minus(double[] a, double[] b) => a.Select((v, i) => v - b[i]).ToArray();
}
