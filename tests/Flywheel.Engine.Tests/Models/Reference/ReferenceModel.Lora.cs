using Flywheel.Adapters;
using Flywheel.Models.Building;

namespace Flywheel.Engine.Tests.Models.Reference;

/// <summary>
/// The reference's LoRA path, kept unmerged on purpose: each adapted projection adds scale * (x A^T) B^T to
/// x W, with A = lora_A.weight [r, in] and B = lora_B.weight [out, r] as PEFT stores them. The merged form
/// (<see cref="MergedWeights"/>) is a second, independent route to the same logits.
/// </summary>
internal sealed partial class ReferenceModel
{
    /// <summary>The adapter applied unmerged to every projection it adapts; null for the base model.</summary>
    public PeftAdapter? Adapter { get; init; }

    /// <summary>
    /// Deltas by graph weight name ([in, out]) added unmerged: y += x delta with x as the projection receives it,
    /// never rounded by <see cref="Int8ActivationBlock"/> (the LoRA graph's delta is float MatMuls beside the
    /// int4 one). Null for none.
    /// </summary>
    public IReadOnlyDictionary<string, double[]>? Deltas { get; init; }

    /// <summary>
    /// <paramref name="weights"/> (graph names, [in, out]) with the adapter folded in:
    /// W' = W + scale * (B A)^T, i.e. W'[i, j] += scale * sum_k B[j, k] A[k, i].
    /// </summary>
    public static Dictionary<string, double[]> MergedWeights(Dictionary<string, double[]> weights, PeftAdapter adapter, int layerCount)
    {
        var merged = new Dictionary<string, double[]>(weights);
        for (var layer = 0; layer < layerCount; layer++)
        {
            foreach (var target in LoraTargets.All)
            {
                if (!adapter.TryGetWeights(layer, target, out var lora))
                {
                    continue;
                }

                var name = GraphWeightName(layer, target);
                var w = (double[])weights[name].Clone();
                int r = lora.Rank, n = lora.InCount, m = lora.OutCount;
                for (var i = 0; i < n; i++)
                {
                    for (var j = 0; j < m; j++)
                    {
                        var sum = 0.0;
                        for (var k = 0; k < r; k++)
                        {
                            sum += (double)lora.B[(j * r) + k] * lora.A[(k * n) + i];
                        }

                        w[(i * m) + j] += lora.Scale * sum;
                    }
                }

                merged[name] = w;
            }
        }

        return merged;
    }

    private static string GraphWeightName(int layer, LoraTarget target) => target switch
    {
        LoraTarget.QProj => LlamaWeightNames.Q(layer),
        LoraTarget.KProj => LlamaWeightNames.K(layer),
        LoraTarget.VProj => LlamaWeightNames.V(layer),
        LoraTarget.OProj => LlamaWeightNames.O(layer),
        LoraTarget.GateProj => LlamaWeightNames.Gate(layer),
        LoraTarget.UpProj => LlamaWeightNames.Up(layer),
        LoraTarget.DownProj => LlamaWeightNames.Down(layer),
        _ => throw new ArgumentOutOfRangeException(nameof(target)),
    };

    /// <summary>y += x delta for the <see cref="Deltas"/> entry of <paramref name="weight"/>, if any.</summary>
    private void AddDelta(double[] y, double[] x, string weight)
    {
        if (Deltas is null || !Deltas.TryGetValue(weight, out var delta))
        {
            return;
        }

        Assert.Equal(x.Length * y.Length, delta.Length);
        for (var i = 0; i < x.Length; i++)
        {
            for (var j = 0; j < y.Length; j++)
            {
                y[j] += x[i] * delta[(i * y.Length) + j];
            }
        }
    }

    /// <summary>y += scale * B (A x): first the rank-r projection x A^T, then back up through B^T.</summary>
    private void AddLoraDelta(double[] y, double[] x, int layer, LoraTarget target)
    {
        if (Adapter is null || !Adapter.TryGetWeights(layer, target, out var lora))
        {
            return;
        }

        int r = lora.Rank, n = lora.InCount, m = lora.OutCount;
        Assert.Equal(n, x.Length);
        Assert.Equal(m, y.Length);
        var down = new double[r];
        for (var k = 0; k < r; k++)
        {
            for (var i = 0; i < n; i++)
            {
                down[k] += x[i] * lora.A[(k * n) + i];
            }
        }

        for (var j = 0; j < m; j++)
        {
            var sum = 0.0;
            for (var k = 0; k < r; k++)
            {
                sum += down[k] * lora.B[(j * r) + k];
            }

            y[j] += lora.Scale * sum;
        }
    }
}
