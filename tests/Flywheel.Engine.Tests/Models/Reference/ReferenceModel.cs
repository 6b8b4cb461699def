using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Engine.Tests.Models.Reference;

/// <summary>
/// A plain C# forward pass of the LLaMA architecture in double precision, with weights read back from a
/// model.onnx written by <see cref="LlamaModelBuilder"/>. It exists to prove the graph is the architecture
/// it claims: tests compare its logits with ONNX Runtime's. Slow and simple by design; one sequence.
/// </summary>
internal sealed class ReferenceModel
{
    private readonly Dictionary<string, float[]> _weights;
    private readonly int _layers, _hidden, _heads, _kvHeads, _headSize, _intermediate, _vocab;
    private readonly double _epsilon;
    private readonly List<double[]>[] _keys, _values; // per layer: per position, [kvHeads * headSize]

    public ReferenceModel(string modelPath, GenAiConfig config, double rmsNormEpsilon = 1e-5)
    {
        var model = OnnxModel.Load(modelPath);
        _weights = model.Graph.Initializers.Where(t => t.DataType == TensorElementType.Float).ToDictionary(t => t.Name, t => t.ToFloats());
        var d = config.Decoder;
        (_layers, _hidden, _heads, _kvHeads, _headSize, _vocab) = (d.NumHiddenLayers, d.HiddenSize, d.NumAttentionHeads, d.NumKeyValueHeads, d.HeadSize, config.VocabSize);
        _intermediate = _weights[LlamaWeightNames.Gate(0)].Length / _hidden;
        _epsilon = rmsNormEpsilon;
        _keys = Enumerable.Range(0, _layers).Select(_ => new List<double[]>()).ToArray();
        _values = Enumerable.Range(0, _layers).Select(_ => new List<double[]>()).ToArray();
    }

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
            var q = MatVec(h, _weights[LlamaWeightNames.Q(layer)], _heads * _headSize);
            var k = MatVec(h, _weights[LlamaWeightNames.K(layer)], _kvHeads * _headSize);
            var v = MatVec(h, _weights[LlamaWeightNames.V(layer)], _kvHeads * _headSize);
            Rotate(q, _heads, pos);
            Rotate(k, _kvHeads, pos);
            _keys[layer].Add(k);
            _values[layer].Add(v);
            var attention = Attend(q, layer);
            Accumulate(x, MatVec(attention, _weights[LlamaWeightNames.O(layer)], _hidden));

            var h2 = RmsNorm(x, _weights[LlamaWeightNames.PostAttentionNorm(layer)]);
            var gate = MatVec(h2, _weights[LlamaWeightNames.Gate(layer)], _intermediate);
            var up = MatVec(h2, _weights[LlamaWeightNames.Up(layer)], _intermediate);
            for (var i = 0; i < _intermediate; i++)
            {
                gate[i] = gate[i] / (1 + Math.Exp(-gate[i])) * up[i]; // SiLU(gate) * up
            }

            Accumulate(x, MatVec(gate, _weights[LlamaWeightNames.Down(layer)], _hidden));
        }

        return MatVec(RmsNorm(x, _weights[LlamaWeightNames.FinalNorm]), _weights[LlamaWeightNames.LmHead], _vocab);
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

    private double[] RmsNorm(double[] x, float[] weight)
    {
        var mean = x.Sum(v => v * v) / x.Length;
        var inv = 1 / Math.Sqrt(mean + _epsilon);
        return x.Select((v, i) => v * inv * weight[i]).ToArray();
    }

    /// <summary>x [in] times W [in, out] (ONNX MatMul layout).</summary>
    private static double[] MatVec(double[] x, float[] w, int outCount)
    {
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
}
