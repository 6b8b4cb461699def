using Flywheel.Adapters;
using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Engine.Tests.Models.Reference;

/// <summary>
/// A plain C# forward pass of the LLaMA architecture in double precision, with weights read back from a
/// model.onnx written by <see cref="LlamaModelBuilder"/> (int4 weights dequantized as MatMulNBits defines them). It exists to prove the graph is the architecture
/// it claims: tests compare its logits with ONNX Runtime's. Slow and simple by design; one sequence.
/// </summary>
internal sealed partial class ReferenceModel
{
    private readonly Dictionary<string, double[]> _weights;
    private readonly int _layers, _hidden, _heads, _kvHeads, _headSize, _intermediate, _vocab;
    private readonly double _epsilon;
    private readonly List<double[]>[] _keys, _values; // per layer: per position, [kvHeads * headSize]

    public ReferenceModel(string modelPath, GenAiConfig config, double rmsNormEpsilon = 1e-5)
        : this(ReadWeights(modelPath), config, rmsNormEpsilon)
    {
    }

    /// <summary>A reference over weights by their graph names, each in the ONNX MatMul layout ([in, out]).</summary>
    public ReferenceModel(Dictionary<string, double[]> weights, GenAiConfig config, double rmsNormEpsilon = 1e-5)
    {
        _weights = weights;
        var d = config.Decoder;
        (_layers, _hidden, _heads, _kvHeads, _headSize, _vocab) = (d.NumHiddenLayers, d.HiddenSize, d.NumAttentionHeads, d.NumKeyValueHeads, d.HeadSize, config.VocabSize);
        _intermediate = _weights[LlamaWeightNames.Gate(0)].Length / _hidden;
        _epsilon = rmsNormEpsilon;
        _keys = Enumerable.Range(0, _layers).Select(_ => new List<double[]>()).ToArray();
        _values = Enumerable.Range(0, _layers).Select(_ => new List<double[]>()).ToArray();
    }

    /// <summary>
    /// The float initializers, plus each MatMulNBits weight dequantized as the op defines it, under the name of
    /// the MatMul weight it replaced (the packed name without its "_Q4").
    /// </summary>
    public static Dictionary<string, double[]> ReadWeights(string modelPath)
    {
        var graph = OnnxModel.Load(modelPath).Graph;
        var tensors = graph.Initializers.ToDictionary(t => t.Name);
        var weights = graph.Initializers.Where(t => t.DataType is TensorElementType.Float or TensorElementType.Float16).ToDictionary(t => t.Name, t => t.ToFloats().Select(f => (double)f).ToArray());
        foreach (var node in graph.Nodes.Where(n => n.OpType == "MatMulNBits"))
        {
            long Attr(string name) => node.Attributes.Single(a => a.Name == name).IntValue;
            Assert.Equal(4, Attr("bits"));
            var packed = tensors[node.Inputs[1]];
            var scales = tensors[node.Inputs[2]].ToFloats();
            var hasZeroPoints = node.Inputs.Count > 3 && node.Inputs[3] != "";
            var zeroPoints = hasZeroPoints ? tensors[node.Inputs[3]].RawData : [];
            var name = node.Inputs[1][..^LlamaModelBuilder.Int4WeightSuffix.Length];
            weights[name] = MatMulNBitsWeights.Dequantize(packed.RawData, scales, zeroPoints, hasZeroPoints, (int)Attr("K"), (int)Attr("N"), (int)Attr("block_size"));
        }

        return weights;
    }

    /// <summary>
    /// When set, every projection first rounds its input to int8 per block of this many elements (scale =
    /// max|x| / 127, round to nearest even), as MatMulNBits does at accuracy level 4 (int8 compute).
    /// </summary>
    public int? Int8ActivationBlock { get; init; }

    /// <summary>Tokens processed so far (the KV cache length).</summary>
    public int Position => _keys[0].Count;

    /// <summary>Feeds <paramref name="tokens"/> after what was fed before; returns logits [tokens, vocab].</summary>
    public double[][] Forward(IReadOnlyList<int> tokens)
    {
        var result = new double[tokens.Count][];
        for (var t = 0; t < tokens.Count; t++)
        {
            result[t] = Step(tokens[t]);
        }

        return result;
    }

    private double[] Step(int token)
    {
        var pos = Position;
        var x = new double[_hidden];
        var embedding = _weights[LlamaWeightNames.Embedding];
        for (var i = 0; i < _hidden; i++)
        {
            x[i] = embedding[(token * _hidden) + i];
        }

        for (var layer = 0; layer < _layers; layer++)
        {
            var h = RmsNorm(x, _weights[LlamaWeightNames.InputNorm(layer)]);
            var q = Project(h, layer, LoraTarget.QProj, LlamaWeightNames.Q(layer), _heads * _headSize);
            var k = Project(h, layer, LoraTarget.KProj, LlamaWeightNames.K(layer), _kvHeads * _headSize);
            var v = Project(h, layer, LoraTarget.VProj, LlamaWeightNames.V(layer), _kvHeads * _headSize);
            NormPerHead(q, _heads, LlamaWeightNames.QNorm(layer));
            NormPerHead(k, _kvHeads, LlamaWeightNames.KNorm(layer));
            Rotate(q, _heads, pos);
            Rotate(k, _kvHeads, pos);
            _keys[layer].Add(k);
            _values[layer].Add(v);
            var attention = Attend(q, layer);
            Accumulate(x, Project(attention, layer, LoraTarget.OProj, LlamaWeightNames.O(layer), _hidden));

            var h2 = RmsNorm(x, _weights[LlamaWeightNames.PostAttentionNorm(layer)]);
            var gate = Project(h2, layer, LoraTarget.GateProj, LlamaWeightNames.Gate(layer), _intermediate);
            var up = Project(h2, layer, LoraTarget.UpProj, LlamaWeightNames.Up(layer), _intermediate);
            for (var i = 0; i < _intermediate; i++)
            {
                gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i]; // SiLU(gate) * up
            }

            Accumulate(x, Project(gate, layer, LoraTarget.DownProj, LlamaWeightNames.Down(layer), _hidden));
        }

        return MatVec(RmsNorm(x, _weights[LlamaWeightNames.FinalNorm]), _weights[LlamaWeightNames.LmHead], _vocab);
    }

    /// <summary>x times a projection's weight, plus its bias where the model has one (Qwen2's q/k/v), plus the adapter's delta where it adapts the projection, plus its <see cref="Deltas"/> entry.</summary>
    private double[] Project(double[] x, int layer, LoraTarget target, string weight, int outCount)
    {
        var y = MatVec(x, _weights[weight], outCount);
        AddLoraDelta(y, x, layer, target);
        AddDelta(y, x, weight);
        if (_weights.TryGetValue(LlamaWeightNames.BiasOf(weight), out var bias))
        {
            Accumulate(y, bias);
        }

        return y;
    }

    /// <summary>Qwen3: RMSNorm over each head's slice, where the model has the norm's weight.</summary>
    private void NormPerHead(double[] vector, int headCount, string weight)
    {
        if (!_weights.TryGetValue(weight, out var w))
        {
            return;
        }

        for (var head = 0; head < headCount; head++)
        {
            var normed = RmsNorm(vector[(head * _headSize)..((head + 1) * _headSize)], w);
            normed.CopyTo(vector, head * _headSize);
        }
    }

    /// <summary>Causal attention of one query over the layer's cache; query head h reads KV head h / (heads / kvHeads).</summary>
    private double[] Attend(double[] q, int layer)
    {
        var output = new double[_heads * _headSize];
        var group = _heads / _kvHeads;
        var scale = 1 / Math.Sqrt(_headSize);
        var length = _keys[layer].Count;
        var scores = new double[length];
        for (var head = 0; head < _heads; head++)
        {
            var kvHead = head / group;
            var max = double.NegativeInfinity;
            for (var t = 0; t < length; t++)
            {
                var dot = 0.0;
                for (var i = 0; i < _headSize; i++)
                {
                    dot += q[(head * _headSize) + i] * _keys[layer][t][(kvHead * _headSize) + i];
                }

                scores[t] = dot * scale;
                max = Math.Max(max, scores[t]);
            }

            var sum = 0.0;
            for (var t = 0; t < length; t++)
            {
                scores[t] = Math.Exp(scores[t] - max);
                sum += scores[t];
            }

            for (var t = 0; t < length; t++)
            {
                for (var i = 0; i < _headSize; i++)
                {
                    output[(head * _headSize) + i] += scores[t] / sum * _values[layer][t][(kvHead * _headSize) + i];
                }
            }
        }

        return output;
    }

    /// <summary>Non-interleaved rotary: the first and second halves of each head form the rotated pairs.</summary>
    private void Rotate(double[] vector, int headCount, int pos)
    {
        var half = _headSize / 2;
        var cos = _weights[LlamaWeightNames.CosCache];
        var sin = _weights[LlamaWeightNames.SinCache];
        for (var head = 0; head < headCount; head++)
        {
            var b = head * _headSize;
            for (var i = 0; i < half; i++)
            {
                double c = cos[(pos * half) + i], s = sin[(pos * half) + i];
                double x1 = vector[b + i], x2 = vector[b + half + i];
                vector[b + i] = (x1 * c) - (x2 * s);
                vector[b + half + i] = (x2 * c) + (x1 * s);
            }
        }
    }

    private double[] RmsNorm(double[] x, double[] weight)
    {
        var mean = x.Sum(v => v * v) / x.Length;
        var inv = 1 / Math.Sqrt(mean + _epsilon);
        return x.Select((v, i) => v * inv * weight[i]).ToArray();
    }

    /// <summary>x [in] times W [in, out] (ONNX MatMul layout).</summary>
    private double[] MatVec(double[] x, double[] w, int outCount)
    {
        if (Int8ActivationBlock is { } block)
        {
            x = QuantizeInt8(x, block);
        }

        var y = new double[outCount];
        for (var i = 0; i < x.Length; i++)
        {
            var xi = x[i];
            var row = i * outCount;
            for (var j = 0; j < outCount; j++)
            {
                y[j] += xi * w[row + j];
            }
        }

        return y;
    }

    private static void Accumulate(double[] x, double[] delta)
    {
        for (var i = 0; i < x.Length; i++)
        {
            x[i] += delta[i];
        }
    }

    /// <summary>x rounded to int8 codes per block (the float the op's int8 kernel multiplies with).</summary>
    private static double[] QuantizeInt8(double[] x, int block)
    {
        var result = new double[x.Length];
        for (var start = 0; start < x.Length; start += block)
        {
            var end = Math.Min(start + block, x.Length);
            var amax = 0f;
            for (var i = start; i < end; i++)
            {
                amax = Math.Max(amax, Math.Abs((float)x[i]));
            }

            var scale = amax / 127f;
            var reciprocal = scale != 0 ? 1f / scale : 0f;
            for (var i = start; i < end; i++)
            {
                result[i] = Math.Clamp(MathF.Round((float)x[i] * reciprocal), -128f, 127f) * (double)scale;
            }
        }

        return result;
    }
}
