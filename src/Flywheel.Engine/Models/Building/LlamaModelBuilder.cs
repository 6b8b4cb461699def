using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Models.Building;

/// <summary>
/// Writes a LLaMA-architecture decoder with seeded dummy weights in the layout ORT GenAI's builder
/// writes for CPU fp32: embedding Gather, RMSNorm (SimplifiedLayerNormalization), Q/K/V MatMuls,
/// com.microsoft GroupQueryAttention with fused rotary (cos/sin caches), SwiGLU MLP, final norm, lm_head.
/// Inputs input_ids [B,S] int64, attention_mask [B,T] int64, past_key_values.N.key/value
/// [B, kvHeads, P, headSize]; outputs logits [B,S,V] and present.N.key/value [B, kvHeads, T, headSize].
/// </summary>
public static class LlamaModelBuilder
{
    /// <summary>Builds the graph with its weights.</summary>
    public static OnnxModel BuildGraph(ModelBuilderOptions o)
    {
        o.Validate();
        var w = new DummyWeights(o.Seed);
        var model = new OnnxModel { IrVersion = 10 };
        model.OpsetImports[""] = 21;
        model.OpsetImports["com.microsoft"] = 1;
        var g = model.Graph;
        g.Name = "flywheel_llama";
        int h = o.HiddenSize, kvDim = o.KvHeadCount * o.HeadSize, hs = o.HeadSize;

        g.Inputs.Add(new OnnxValueInfo("input_ids", TensorElementType.Int64, ["batch_size", "sequence_length"]));
        g.Inputs.Add(new OnnxValueInfo("attention_mask", TensorElementType.Int64, ["batch_size", "total_sequence_length"]));
        g.Outputs.Add(new OnnxValueInfo("logits", TensorElementType.Float, ["batch_size", "sequence_length", (long)o.VocabSize]));
        for (var layer = 0; layer < o.LayerCount; layer++)
        {
            foreach (var kind in new[] { "key", "value" })
            {
                g.Inputs.Add(new OnnxValueInfo($"past_key_values.{layer}.{kind}", TensorElementType.Float, ["batch_size", (long)o.KvHeadCount, "past_sequence_length", (long)hs]));
                g.Outputs.Add(new OnnxValueInfo($"present.{layer}.{kind}", TensorElementType.Float, ["batch_size", (long)o.KvHeadCount, "total_sequence_length", (long)hs]));
            }
        }

        // Weights: embeddings ~ N(0,1) so hidden states start at unit scale; projections ~ N(0, 1/sqrt(fan_in));
        // norms near 1; lm_head scaled up so the dummy model's next-token distributions are peaked, which
        // makes greedy outputs varied instead of dominated by near-ties.
        Add(g, LlamaWeightNames.Embedding, [o.VocabSize, h], w.Normal(LlamaWeightNames.Embedding, o.VocabSize * h, 1.0));
        Add(g, LlamaWeightNames.CosCache, [o.ContextLength, hs / 2], RotaryCache(o, Math.Cos));
        Add(g, LlamaWeightNames.SinCache, [o.ContextLength, hs / 2], RotaryCache(o, Math.Sin));
        g.Initializers.Add(OnnxTensor.FromInt64s("const_axes_1", [1], [1]));
        g.Initializers.Add(OnnxTensor.FromInt64s("const_one", [], [1]));

        g.AddNode("Gather", [LlamaWeightNames.Embedding, "input_ids"], ["embeddings"], "/model/embed_tokens/Gather");
        // GroupQueryAttention takes per-row lengths: seqlens_k = (sum of attention_mask over a row) - 1,
        // total_sequence_length = width of attention_mask; both int32.
        g.AddNode("ReduceSum", ["attention_mask", "const_axes_1"], ["mask_rowsum"], "/model/attn_mask_reformat/ReduceSum", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("Sub", ["mask_rowsum", "const_one"], ["seqlens_k_int64"], "/model/attn_mask_reformat/Sub");
        g.AddNode("Cast", ["seqlens_k_int64"], ["seqlens_k"], "/model/attn_mask_reformat/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Int32));
        g.AddNode("Shape", ["attention_mask"], ["mask_shape"], "/model/attn_mask_reformat/Shape");
        g.AddNode("Gather", ["mask_shape", "const_one"], ["total_seq_len_int64"], "/model/attn_mask_reformat/Gather", "", OnnxAttribute.Int("axis", 0));
        g.AddNode("Cast", ["total_seq_len_int64"], ["total_seq_len"], "/model/attn_mask_reformat/Cast_1", "", OnnxAttribute.Int("to", (long)TensorElementType.Int32));

        var x = "embeddings";
        for (var layer = 0; layer < o.LayerCount; layer++)
        {
            var p = $"/model/layers.{layer}";
            Add(g, LlamaWeightNames.InputNorm(layer), [h], w.Normal(LlamaWeightNames.InputNorm(layer), h, 0.1, 1.0));
            Add(g, LlamaWeightNames.PostAttentionNorm(layer), [h], w.Normal(LlamaWeightNames.PostAttentionNorm(layer), h, 0.1, 1.0));
            Add(g, LlamaWeightNames.Q(layer), [h, h], w.Normal(LlamaWeightNames.Q(layer), h * h, 1 / Math.Sqrt(h)));
            Add(g, LlamaWeightNames.K(layer), [h, kvDim], w.Normal(LlamaWeightNames.K(layer), h * kvDim, 1 / Math.Sqrt(h)));
            Add(g, LlamaWeightNames.V(layer), [h, kvDim], w.Normal(LlamaWeightNames.V(layer), h * kvDim, 1 / Math.Sqrt(h)));
            Add(g, LlamaWeightNames.O(layer), [h, h], w.Normal(LlamaWeightNames.O(layer), h * h, 1 / Math.Sqrt(h)));
            Add(g, LlamaWeightNames.Gate(layer), [h, o.IntermediateSize], w.Normal(LlamaWeightNames.Gate(layer), h * o.IntermediateSize, 1 / Math.Sqrt(h)));
            Add(g, LlamaWeightNames.Up(layer), [h, o.IntermediateSize], w.Normal(LlamaWeightNames.Up(layer), h * o.IntermediateSize, 1 / Math.Sqrt(h)));
            Add(g, LlamaWeightNames.Down(layer), [o.IntermediateSize, h], w.Normal(LlamaWeightNames.Down(layer), o.IntermediateSize * h, 1 / Math.Sqrt(o.IntermediateSize)));

            RmsNorm(g, x, LlamaWeightNames.InputNorm(layer), $"{p}/input_layernorm", o.RmsNormEpsilon);
            var normed = $"{p}/input_layernorm/output_0";
            g.AddNode("MatMul", [normed, LlamaWeightNames.Q(layer)], [$"{p}/attn/q_proj/output_0"], $"{p}/attn/q_proj/MatMul");
            g.AddNode("MatMul", [normed, LlamaWeightNames.K(layer)], [$"{p}/attn/k_proj/output_0"], $"{p}/attn/k_proj/MatMul");
            g.AddNode("MatMul", [normed, LlamaWeightNames.V(layer)], [$"{p}/attn/v_proj/output_0"], $"{p}/attn/v_proj/MatMul");
            g.AddNode(
                "GroupQueryAttention",
                [$"{p}/attn/q_proj/output_0", $"{p}/attn/k_proj/output_0", $"{p}/attn/v_proj/output_0",
                 $"past_key_values.{layer}.key", $"past_key_values.{layer}.value", "seqlens_k", "total_seq_len",
                 LlamaWeightNames.CosCache, LlamaWeightNames.SinCache],
                [$"{p}/attn/GroupQueryAttention/output_0", $"present.{layer}.key", $"present.{layer}.value"],
                $"{p}/attn/GroupQueryAttention",
                "com.microsoft",
                OnnxAttribute.Int("num_heads", o.HeadCount),
                OnnxAttribute.Int("kv_num_heads", o.KvHeadCount),
                OnnxAttribute.Int("do_rotary", 1),
                OnnxAttribute.Int("rotary_interleaved", 0),
                OnnxAttribute.Float("scale", (float)(1 / Math.Sqrt(hs))),
                OnnxAttribute.Int("local_window_size", -1));
            g.AddNode("MatMul", [$"{p}/attn/GroupQueryAttention/output_0", LlamaWeightNames.O(layer)], [$"{p}/attn/o_proj/output_0"], $"{p}/attn/o_proj/MatMul");
            g.AddNode("Add", [x, $"{p}/attn/o_proj/output_0"], [$"{p}/residual_attn/output_0"], $"{p}/residual_attn/Add");
            x = $"{p}/residual_attn/output_0";

            RmsNorm(g, x, LlamaWeightNames.PostAttentionNorm(layer), $"{p}/post_attention_layernorm", o.RmsNormEpsilon);
            var normed2 = $"{p}/post_attention_layernorm/output_0";
            g.AddNode("MatMul", [normed2, LlamaWeightNames.Gate(layer)], [$"{p}/mlp/gate_proj/output_0"], $"{p}/mlp/gate_proj/MatMul");
            g.AddNode("MatMul", [normed2, LlamaWeightNames.Up(layer)], [$"{p}/mlp/up_proj/output_0"], $"{p}/mlp/up_proj/MatMul");
            g.AddNode("Sigmoid", [$"{p}/mlp/gate_proj/output_0"], [$"{p}/mlp/act_fn/Sigmoid/output_0"], $"{p}/mlp/act_fn/Sigmoid");
            g.AddNode("Mul", [$"{p}/mlp/gate_proj/output_0", $"{p}/mlp/act_fn/Sigmoid/output_0"], [$"{p}/mlp/act_fn/Mul/output_0"], $"{p}/mlp/act_fn/Mul");
            g.AddNode("Mul", [$"{p}/mlp/act_fn/Mul/output_0", $"{p}/mlp/up_proj/output_0"], [$"{p}/mlp/Mul/output_0"], $"{p}/mlp/Mul");
            g.AddNode("MatMul", [$"{p}/mlp/Mul/output_0", LlamaWeightNames.Down(layer)], [$"{p}/mlp/down_proj/output_0"], $"{p}/mlp/down_proj/MatMul");
            g.AddNode("Add", [x, $"{p}/mlp/down_proj/output_0"], [$"{p}/residual_mlp/output_0"], $"{p}/residual_mlp/Add");
            x = $"{p}/residual_mlp/output_0";
        }

        Add(g, LlamaWeightNames.FinalNorm, [h], w.Normal(LlamaWeightNames.FinalNorm, h, 0.1, 1.0));
        Add(g, LlamaWeightNames.LmHead, [h, o.VocabSize], w.Normal(LlamaWeightNames.LmHead, h * o.VocabSize, 4 / Math.Sqrt(h)));
        RmsNorm(g, x, LlamaWeightNames.FinalNorm, "/model/norm", o.RmsNormEpsilon);
        g.AddNode("MatMul", ["/model/norm/output_0", LlamaWeightNames.LmHead], ["logits"], "/lm_head/MatMul");
        return model;
    }

    /// <summary>The genai_config.json that describes a model built with <paramref name="o"/>.</summary>
    public static GenAiConfig Config(ModelBuilderOptions o, int bosTokenId, IReadOnlyList<int> eosTokenIds, int padTokenId) => new()
    {
        ModelType = "llama",
        ContextLength = o.ContextLength,
        VocabSize = o.VocabSize,
        BosTokenId = bosTokenId,
        EosTokenIds = eosTokenIds,
        PadTokenId = padTokenId,
        Decoder = new DecoderConfig
        {
            Filename = "model.onnx",
            HeadSize = o.HeadSize,
            HiddenSize = o.HiddenSize,
            NumAttentionHeads = o.HeadCount,
            NumKeyValueHeads = o.KvHeadCount,
            NumHiddenLayers = o.LayerCount,
        },
        Search = new SearchConfig { MaxLength = o.ContextLength, PastPresentShareBuffer = true, TopK = 1 },
    };

    private static void RmsNorm(OnnxGraph g, string input, string weight, string prefix, float epsilon) =>
        g.AddNode("SimplifiedLayerNormalization", [input, weight], [$"{prefix}/output_0"], $"{prefix}/SimplifiedLayerNormalization", "",
            OnnxAttribute.Int("axis", -1), OnnxAttribute.Float("epsilon", epsilon), OnnxAttribute.Int("stash_type", 1));

    private static void Add(OnnxGraph g, string name, long[] dims, float[] values) => g.Initializers.Add(OnnxTensor.FromFloats(name, dims, values));

    /// <summary>cos or sin of position * theta^(-2i/headSize), [context, headSize/2] (non-interleaved rotary).</summary>
    private static float[] RotaryCache(ModelBuilderOptions o, Func<double, double> f)
    {
        var half = o.HeadSize / 2;
        var cache = new float[o.ContextLength * half];
        for (var pos = 0; pos < o.ContextLength; pos++)
        {
            for (var i = 0; i < half; i++)
            {
                cache[(pos * half) + i] = (float)f(pos * Math.Pow(o.RopeTheta, -2.0 * i / o.HeadSize));
            }
        }

        return cache;
    }
}
