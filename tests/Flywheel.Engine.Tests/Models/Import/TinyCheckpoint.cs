using System.Text.Json;
using Flywheel.Models.Building;
using Flywheel.Models.Import;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Models.Import;

/// <summary>
/// A tiny random Hugging Face checkpoint written with the project's safetensors writer, and the same weights as
/// the reference forward takes them (graph names, [in, out]), mapped here independently of the importer.
/// Values are rounded to what the stored dtype holds, so both sides see the same numbers.
/// </summary>
internal sealed class TinyCheckpoint
{
    public const int Layers = 2, Hidden = 64, Heads = 4, KvHeads = 2, Intermediate = 128, Vocab = 320, Context = 256;
    public const double RopeTheta = 500000, Epsilon = 1e-6;

    private TinyCheckpoint(string dir, Dictionary<string, double[]> reference) => (Dir, ReferenceWeights) = (dir, reference);

    public string Dir { get; }

    /// <summary>Graph-named weights for the reference, cos/sin caches computed here from <see cref="RopeTheta"/>.</summary>
    public Dictionary<string, double[]> ReferenceWeights { get; }

    /// <summary>
    /// Writes a checkpoint of <paramref name="architecture"/> into a fresh folder; <paramref name="ropeScaling"/>
    /// goes into config.json as rope_scaling and into the reference's rotary tables (<see cref="ScaledInverseFrequency"/>).
    /// </summary>
    public static TinyCheckpoint Write(string architecture, string dtype, bool sharded, bool tied, Action<Dictionary<string, object?>>? editConfig = null, Dictionary<string, object>? ropeScaling = null)
    {
        var dir = TestScratch.Path($"hf-{architecture}-{dtype}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        SyntheticTokenizer.Write(dir, Vocab);
        var random = new Random(architecture.Length * 7919);
        var tensors = new List<SafetensorsWriter.Tensor>();
        var reference = new Dictionary<string, double[]>(StringComparer.Ordinal);
        float[] Add(string hfName, long[] shape, double std, double mean = 0)
        {
            var values = new float[shape.Aggregate(1L, (a, d) => a * d)];
            for (var i = 0; i < values.Length; i++)
            {
                var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                var v = (float)(mean + (std * normal));
                values[i] = dtype switch { "BF16" => SafetensorsWriter.RoundToBFloat16(v), "F16" => (float)(Half)v, _ => v };
            }

            tensors.Add(new SafetensorsWriter.Tensor(hfName, dtype, shape, values));
            return values;
        }

        // nn.Linear stores [out, in]; the graph multiplies by [in, out].
        double[] Linear(string hfName, int outFeatures, int inFeatures, double std)
        {
            var w = Add(hfName, [outFeatures, inFeatures], std);
            var t = new double[w.Length];
            for (var o = 0; o < outFeatures; o++)
            {
                for (var i = 0; i < inFeatures; i++)
                {
                    t[(i * outFeatures) + o] = w[(o * inFeatures) + i];
                }
            }

            return t;
        }

        static double[] D(float[] v) => v.Select(x => (double)x).ToArray();
        // Qwen3 sets head_dim apart from hidden / heads; 32 makes q and the attention output 128 wide.
        var qwen3 = architecture == "Qwen3ForCausalLM";
        var headSize = qwen3 ? 32 : Hidden / Heads;
        var embedding = Add("model.embed_tokens.weight", [Vocab, Hidden], 1.0);
        reference[LlamaWeightNames.Embedding] = D(embedding);
        for (var l = 0; l < Layers; l++)
        {
            var p = $"model.layers.{l}";
            reference[LlamaWeightNames.InputNorm(l)] = D(Add($"{p}.input_layernorm.weight", [Hidden], 0.1, 1));
            reference[LlamaWeightNames.Q(l)] = Linear($"{p}.self_attn.q_proj.weight", Heads * headSize, Hidden, 0.125);
            reference[LlamaWeightNames.K(l)] = Linear($"{p}.self_attn.k_proj.weight", KvHeads * headSize, Hidden, 0.125);
            reference[LlamaWeightNames.V(l)] = Linear($"{p}.self_attn.v_proj.weight", KvHeads * headSize, Hidden, 0.125);
            if (architecture == "Qwen2ForCausalLM")
            {
                reference[LlamaWeightNames.BiasOf(LlamaWeightNames.Q(l))] = D(Add($"{p}.self_attn.q_proj.bias", [Hidden], 0.5));
                reference[LlamaWeightNames.BiasOf(LlamaWeightNames.K(l))] = D(Add($"{p}.self_attn.k_proj.bias", [KvHeads * headSize], 0.5));
                reference[LlamaWeightNames.BiasOf(LlamaWeightNames.V(l))] = D(Add($"{p}.self_attn.v_proj.bias", [KvHeads * headSize], 0.5));
            }

            if (qwen3)
            {
                reference[LlamaWeightNames.QNorm(l)] = D(Add($"{p}.self_attn.q_norm.weight", [headSize], 0.1, 1));
                reference[LlamaWeightNames.KNorm(l)] = D(Add($"{p}.self_attn.k_norm.weight", [headSize], 0.1, 1));
            }

            reference[LlamaWeightNames.O(l)] = Linear($"{p}.self_attn.o_proj.weight", Hidden, Heads * headSize, 0.09);
            reference[LlamaWeightNames.PostAttentionNorm(l)] = D(Add($"{p}.post_attention_layernorm.weight", [Hidden], 0.1, 1));
            reference[LlamaWeightNames.Gate(l)] = Linear($"{p}.mlp.gate_proj.weight", Intermediate, Hidden, 0.125);
            reference[LlamaWeightNames.Up(l)] = Linear($"{p}.mlp.up_proj.weight", Intermediate, Hidden, 0.125);
            reference[LlamaWeightNames.Down(l)] = Linear($"{p}.mlp.down_proj.weight", Hidden, Intermediate, 0.09);
        }

        reference[LlamaWeightNames.FinalNorm] = D(Add("model.norm.weight", [Hidden], 0.1, 1));
        if (tied)
        {
            var lmHead = new double[Hidden * Vocab];
            for (var v = 0; v < Vocab; v++)
            {
                for (var i = 0; i < Hidden; i++)
                {
                    lmHead[(i * Vocab) + v] = embedding[(v * Hidden) + i];
                }
            }

            reference[LlamaWeightNames.LmHead] = lmHead;
        }
        else
        {
            reference[LlamaWeightNames.LmHead] = Linear("lm_head.weight", Vocab, Hidden, 0.5);
        }

        // Rotary tables from the config's theta: angle(pos, i) = pos * theta^(-2i / headSize).
        var half = headSize / 2;
        var cos = new double[Context * half];
        var sin = new double[Context * half];
        for (var pos = 0; pos < Context; pos++)
        {
            for (var i = 0; i < half; i++)
            {
                var angle = pos * ScaledInverseFrequency(Math.Pow(RopeTheta, -2.0 * i / headSize), ropeScaling);
                (cos[(pos * half) + i], sin[(pos * half) + i]) = (Math.Cos(angle), Math.Sin(angle));
            }
        }

        reference[LlamaWeightNames.CosCache] = cos;
        reference[LlamaWeightNames.SinCache] = sin;

        if (architecture == "Phi3ForCausalLM")
        {
            FusePhi3(tensors);
        }

        WriteWeights(dir, tensors, sharded);
        var config = new Dictionary<string, object?>
        {
            ["architectures"] = new[] { architecture },
            ["hidden_size"] = Hidden,
            ["intermediate_size"] = Intermediate,
            ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads,
            ["num_key_value_heads"] = KvHeads,
            ["vocab_size"] = Vocab,
            ["max_position_embeddings"] = Context,
            ["rope_theta"] = RopeTheta,
            ["rms_norm_eps"] = Epsilon,
            ["hidden_act"] = "silu",
            ["tie_word_embeddings"] = tied,
            ["rope_scaling"] = ropeScaling,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = 2,
            ["head_dim"] = headSize,
            ["torch_dtype"] = dtype == "BF16" ? "bfloat16" : dtype == "F16" ? "float16" : "float32",
        };
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"bos_token_id": 1, "eos_token_id": [2, 3]}""");
        return new TinyCheckpoint(dir, reference);
    }

    /// <summary>
    /// A rotary inverse frequency under Hugging Face's rope_scaling, written from transformers' description of
    /// each type. linear: every frequency divided by factor. llama3: by wavelength 2 pi / f against the original
    /// context L: wavelengths under L / high_freq_factor keep f, those over L / low_freq_factor get f / factor,
    /// and between them f is blended, (1 - s) f / factor + s f with s = (L / wavelength - low) / (high - low).
    /// </summary>
    public static double ScaledInverseFrequency(double f, Dictionary<string, object>? scaling)
    {
        if (scaling is null)
        {
            return f;
        }

        var factor = Convert.ToDouble(scaling["factor"], System.Globalization.CultureInfo.InvariantCulture);
        if ((string)scaling["rope_type"] == "linear")
        {
            return f / factor;
        }

        double Get(string key) => Convert.ToDouble(scaling[key], System.Globalization.CultureInfo.InvariantCulture);
        var (low, high, original) = (Get("low_freq_factor"), Get("high_freq_factor"), Get("original_max_position_embeddings"));
        var wavelength = 2 * Math.PI / f;
        if (wavelength < original / high)
        {
            return f;
        }

        if (wavelength > original / low)
        {
            return f / factor;
        }

        var smooth = ((original / wavelength) - low) / (high - low);
        return ((1 - smooth) * f / factor) + (smooth * f);
    }

    /// <summary>Phi-3 stores q, k, v as one qkv_proj and gate, up as one gate_up_proj: their rows stacked in that order.</summary>
    private static void FusePhi3(List<SafetensorsWriter.Tensor> tensors)
    {
        void Fuse(string layer, string fused, params string[] parts)
        {
            var found = parts.Select(n => tensors.Single(t => t.Name == $"{layer}.{n}.weight")).ToList();
            var index = tensors.IndexOf(found[0]);
            tensors.RemoveAll(found.Contains);
            var shape = new[] { found.Sum(t => t.Shape[0]), found[0].Shape[1] };
            tensors.Insert(index, new SafetensorsWriter.Tensor($"{layer}.{fused}.weight", found[0].DType, shape, found.SelectMany(t => t.Values).ToArray()));
        }

        for (var l = 0; l < Layers; l++)
        {
            Fuse($"model.layers.{l}", "self_attn.qkv_proj", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj");
            Fuse($"model.layers.{l}", "mlp.gate_up_proj", "mlp.gate_proj", "mlp.up_proj");
        }
    }

    private static void WriteWeights(string dir, List<SafetensorsWriter.Tensor> tensors, bool sharded)
    {
        if (!sharded)
        {
            SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            return;
        }

        var halves = new[] { tensors.Take(tensors.Count / 2).ToList(), tensors.Skip(tensors.Count / 2).ToList() };
        var map = new Dictionary<string, string>();
        for (var i = 0; i < 2; i++)
        {
            var name = $"model-0000{i + 1}-of-00002.safetensors";
            SafetensorsWriter.Write(Path.Combine(dir, name), halves[i]);
            halves[i].ForEach(t => map[t.Name] = name);
        }

        File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
    }
}
