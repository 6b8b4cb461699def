using System.Runtime.InteropServices;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Models.Building;

/// <summary>The weight MatMuls in each precision.</summary>
public static partial class LlamaModelBuilder
{
    /// <summary>Suffix ORT's MatMulNBits quantizer gives the packed weight (and the node) of a quantized MatMul.</summary>
    public const string Int4WeightSuffix = "_Q4";

    /// <summary>Suffix of a quantized MatMul's per-block scales.</summary>
    public const string ScalesSuffix = "_scales";

    /// <summary>
    /// Adds the weight of x [.., K] times W [K, N]: fp32 or fp16 as W itself; int4 as <c>{name}_Q4</c> (uint8 [N, blocks,
    /// blockSize / 2]) and <c>{name}_scales</c> (float [N * blocks]), the initializers ORT's quantizer writes for a
    /// symmetric MatMulNBits (no zero points).
    /// </summary>
    private static void AddProjection(OnnxGraph g, ModelBuilderOptions o, string name, int k, int n, float[] values)
    {
        if (o.Precision != ModelPrecision.Int4)
        {
            Add(g, o, name, [k, n], values);
            return;
        }

        var (packed, scales) = Int4Quantizer.Quantize(values, k, n, o.BlockSize);
        var blocks = Int4Quantizer.BlockCount(k, o.BlockSize);
        AddBytes(g, o, name + Int4WeightSuffix, TensorElementType.UInt8, [n, blocks, o.BlockSize / 2], packed);
        AddBytes(g, o, name + ScalesSuffix, TensorElementType.Float, [(long)n * blocks], MemoryMarshal.AsBytes(scales.AsSpan()));
    }

    /// <summary>
    /// x times the weight added by <see cref="AddProjection"/>: a MatMul, or a com.microsoft MatMulNBits with
    /// K, N, bits, block_size and accuracy_level (left out when 0, as the quantizer does), named <c>{node}_Q4</c>.
    /// </summary>
    private static void MatMul(OnnxGraph g, ModelBuilderOptions o, string input, string weight, int k, int n, string output, string nodeName)
    {
        if (TryLoraMatMul(g, o, input, weight, k, n, output, nodeName))
        {
            return;
        }

        if (o.Precision != ModelPrecision.Int4)
        {
            g.AddNode("MatMul", [input, weight], [output], nodeName);
            return;
        }

        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.Int("K", k),
            OnnxAttribute.Int("N", n),
            OnnxAttribute.Int("bits", 4),
            OnnxAttribute.Int("block_size", o.BlockSize),
        };
        if (o.AccuracyLevel != 0)
        {
            attributes.Add(OnnxAttribute.Int("accuracy_level", o.AccuracyLevel));
        }

        g.AddNode("MatMulNBits", [input, weight + Int4WeightSuffix, weight + ScalesSuffix], [output], nodeName + Int4WeightSuffix, "com.microsoft", [.. attributes]);
    }

    /// <summary>
    /// The MatMul of a q/k/v projection (<see cref="ProjectionTail"/> writes the rest); returns its output's name.
    /// With <see cref="ModelBuilderOptions.AttentionBias"/> or <see cref="ModelBuilderOptions.QkNorm"/> that is
    /// an intermediate; otherwise <c>{prefix}/output_0</c>.
    /// </summary>
    private static string ProjectionMatMul(OnnxGraph g, ModelBuilderOptions o, string input, string weight, int k, int n, string prefix, int layer)
    {
        var output = o.AttentionBias ? $"{prefix}/MatMul/output_0" : QkNormOf(o, prefix, layer) is null ? $"{prefix}/output_0" : $"{prefix}/unnormed_0";
        MatMul(g, o, input, weight, k, n, output, $"{prefix}/MatMul");
        return output;
    }

    private static string? QkNormOf(ModelBuilderOptions o, string prefix, int layer) =>
        o.QkNorm && !prefix.EndsWith("v_proj", StringComparison.Ordinal) ? (prefix.EndsWith("q_proj", StringComparison.Ordinal) ? LlamaWeightNames.QNorm(layer) : LlamaWeightNames.KNorm(layer)) : null;

    /// <summary>
    /// The rest of a q/k/v projection into <c>{prefix}/output_0</c>, from its MatMul's <paramref name="product"/>.
    /// With <see cref="ModelBuilderOptions.AttentionBias"/> an Add of <c>...Add.bias</c> (Qwen2); with
    /// <see cref="ModelBuilderOptions.QkNorm"/> q and k are RMS-normalized per head (Qwen3): reshaped to
    /// [.., heads, headSize], SimplifiedLayerNormalization, and back.
    /// </summary>
    private static void ProjectionTail(OnnxGraph g, ModelBuilderOptions o, ILlamaWeightSource w, string product, string weight, int n, string prefix, int layer, bool mixed)
    {
        var norm = QkNormOf(o, prefix, layer);
        var output = norm is null ? $"{prefix}/output_0" : $"{prefix}/unnormed_0";
        if (o.AttentionBias)
        {
            var bias = LlamaWeightNames.BiasOf(weight);
            Add(g, o, bias, [n], w.Tensor(bias, n, 0.02));
            g.AddNode("Add", [product, bias], [output], $"{prefix}/Add");
        }

        if (norm is null)
        {
            return;
        }

        // Reshape 0 copies the input's dimension: [B, S, n] <-> [B, S, heads, headSize] (mixed: [T, n] <-> [T, heads, headSize]).
        if (!g.Initializers.Any(t => t.Name == "const_heads_split"))
        {
            g.Initializers.Add(OnnxTensor.FromInt64s("const_heads_split", [mixed ? 3 : 4], mixed ? [0, -1, o.HeadSize] : [0, 0, -1, o.HeadSize]));
            g.Initializers.Add(OnnxTensor.FromInt64s("const_heads_join", [mixed ? 2 : 3], mixed ? [0, -1] : [0, 0, -1]));
        }

        Add(g, o, norm, [o.HeadSize], w.Tensor(norm, o.HeadSize, 0.1, 1.0));
        var normPrefix = prefix.Replace("_proj", "_norm", StringComparison.Ordinal);
        g.AddNode("Reshape", [output, "const_heads_split"], [$"{normPrefix}/Reshape/output_0"], $"{normPrefix}/Reshape");
        RmsNorm(g, $"{normPrefix}/Reshape/output_0", norm, normPrefix, o.RmsNormEpsilon);
        g.AddNode("Reshape", [$"{normPrefix}/output_0", "const_heads_join"], [$"{prefix}/output_0"], $"{normPrefix}/Reshape_1");
    }
}
