using System.Runtime.InteropServices;
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
public static partial class LlamaModelBuilder
{
    /// <summary>File name of the mixed graph the builder writes beside model.onnx (see <see cref="BuildMixedGraph"/>).</summary>
    public const string MixedFileName = ModelFolder.MixedFileName;

    /// <summary>Builds the graph with its weights.</summary>
    public static OnnxModel BuildGraph(ModelBuilderOptions o) => Build(o, mixed: false);

    /// <summary>
    /// The same decoder (same weights) with two streams in one Run: the standard inputs and outputs carry
    /// decode rows ([B,1] ids, one past per row), and chunk_ids [1,C] / chunk_attention_mask /
    /// chunk_past_key_values.N.* carry one prompt chunk on top of its own past (chunk_present.N.* out);
    /// logits [B + C, 1, V] hold the decode rows' then every chunk position's. The B + C tokens share every MatMul (the weights are streamed once), and each
    /// stream has its own GroupQueryAttention, because on CPU a multi-token chunk over a past runs only as a
    /// batch of one. This lets a FlyWheel step (decodes plus a chunk) be a single Run. Not part of the ORT
    /// GenAI layout: a folder without it runs the step as separate Runs.
    /// </summary>
    public static OnnxModel BuildMixedGraph(ModelBuilderOptions o) => Build(o, mixed: true);

    private static OnnxModel Build(ModelBuilderOptions o, bool mixed)
    {
        o.Validate();
        var w = o.Weights ?? new DummyWeights(o.Seed);
        var model = new OnnxModel { IrVersion = 10 };
        model.OpsetImports[""] = 21;
        model.OpsetImports["com.microsoft"] = 1;
        var g = model.Graph;
        g.Name = mixed ? "flywheel_llama_mixed" : "flywheel_llama";
        int h = o.HiddenSize, kvDim = o.KvHeadCount * o.HeadSize, hs = o.HeadSize, qDim = o.HeadCount * o.HeadSize;

        // Element type of the KV cache and logits: float16 for fp16 weights and for ModelBuilderOptions.Fp16Io.
        var io = o.Fp16Io || o.Precision == ModelPrecision.Fp16 ? TensorElementType.Float16 : TensorElementType.Float;
        var streams = mixed ? new[] { ("", "batch_size", "sequence_length"), ("chunk_", "chunk_batch", "chunk_length") } : [("", "batch_size", "sequence_length")];
        foreach (var (prefix, batch, length) in streams)
        {
            var present = prefix == "" ? "present" : prefix + "present";
            g.Inputs.Add(new OnnxValueInfo(prefix == "" ? "input_ids" : prefix + "ids", TensorElementType.Int64, [batch, length]));
            g.Inputs.Add(new OnnxValueInfo(prefix + "attention_mask", TensorElementType.Int64, [batch, prefix + "total_sequence_length"]));
            if (prefix == "")
            {
                // The mixed graph's logits hold every token of both streams, decode rows first: [B + C, 1, V].
                g.Outputs.Add(new OnnxValueInfo("logits", io, mixed ? ["mixed_tokens", 1L, (long)o.VocabSize] : [batch, length, (long)o.VocabSize]));
            }

            for (var layer = 0; layer < o.LayerCount; layer++)
            {
                foreach (var kind in new[] { "key", "value" })
                {
                    g.Inputs.Add(new OnnxValueInfo($"{prefix}past_key_values.{layer}.{kind}", io, [batch, (long)o.KvHeadCount, prefix + "past_sequence_length", (long)hs]));
                    g.Outputs.Add(new OnnxValueInfo($"{present}.{layer}.{kind}", io, [batch, (long)o.KvHeadCount, prefix + "total_sequence_length", (long)hs]));
                }
            }
        }

        // Weights: embeddings ~ N(0,1) so hidden states start at unit scale; projections ~ N(0, 1/sqrt(fan_in));
        // norms near 1; lm_head scaled up so the dummy model's next-token distributions are peaked, which
        // makes greedy outputs varied instead of dominated by near-ties.
        Add(g, o, LlamaWeightNames.Embedding, [o.VocabSize, h], w.Tensor(LlamaWeightNames.Embedding, o.VocabSize * h, 1.0));
        Add(g, o, LlamaWeightNames.CosCache, [o.ContextLength, hs / 2], RotaryCache(o, Math.Cos));
        Add(g, o, LlamaWeightNames.SinCache, [o.ContextLength, hs / 2], RotaryCache(o, Math.Sin));
        if (CastsAroundAttention(o))
        {
            // GroupQueryAttention takes its rotary caches in its own type.
            foreach (var cache in new[] { LlamaWeightNames.CosCache, LlamaWeightNames.SinCache })
            {
                g.AddNode("Cast", [cache], [cache + Fp16Suffix], $"/model/{cache}/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Float16));
            }
        }

        g.Initializers.Add(OnnxTensor.FromInt64s("const_axes_1", [1], [1]));
        g.Initializers.Add(OnnxTensor.FromInt64s("const_one", [], [1]));

        string x;
        if (mixed)
        {
            // One token stream [B + C, hidden]: the decode rows' tokens, then the chunk's. split_sizes = [B, C].
            g.Initializers.Add(OnnxTensor.FromInt64s("const_rows_h", [2], [-1, h]));
            g.AddNode("Gather", [LlamaWeightNames.Embedding, "input_ids"], ["decode_embeddings"], "/model/embed_tokens/Gather");
            g.AddNode("Gather", [LlamaWeightNames.Embedding, "chunk_ids"], ["chunk_embeddings"], "/model/embed_tokens/Gather_chunk");
            g.AddNode("Reshape", ["decode_embeddings", "const_rows_h"], ["decode_embeddings_2d"], "/model/embed_tokens/Reshape");
            g.AddNode("Reshape", ["chunk_embeddings", "const_rows_h"], ["chunk_embeddings_2d"], "/model/embed_tokens/Reshape_chunk");
            g.AddNode("Concat", ["decode_embeddings_2d", "chunk_embeddings_2d"], ["embeddings"], "/model/embed_tokens/Concat", "", OnnxAttribute.Int("axis", 0));
            g.AddNode("Shape", ["input_ids"], ["decode_rows"], "/model/split_sizes/Shape", "", OnnxAttribute.Int("start", 0), OnnxAttribute.Int("end", 1));
            g.AddNode("Shape", ["chunk_ids"], ["chunk_tokens"], "/model/split_sizes/Shape_chunk", "", OnnxAttribute.Int("start", 1), OnnxAttribute.Int("end", 2));
            g.AddNode("Concat", ["decode_rows", "chunk_tokens"], ["split_sizes"], "/model/split_sizes/Concat", "", OnnxAttribute.Int("axis", 0));
            // With an explicit head_dim (Qwen3) q and the attention output are qDim wide, not hidden.
            if (qDim != h)
            {
                g.Initializers.Add(OnnxTensor.FromInt64s("const_rows_q", [2], [-1, qDim]));
            }

            foreach (var (name, dims) in qDim == h ? new[] { ("q", h), ("kv", kvDim) } : [("q", qDim), ("kv", kvDim), ("h", h)])
            {
                g.Initializers.Add(OnnxTensor.FromInt64s($"const_decode_{name}", [3], [-1, 1, dims]));
                g.Initializers.Add(OnnxTensor.FromInt64s($"const_chunk_{name}", [3], [1, -1, dims]));
            }
        }
        else
        {
            g.AddNode("Gather", [LlamaWeightNames.Embedding, "input_ids"], ["embeddings"], "/model/embed_tokens/Gather");
        }

        foreach (var (prefix, _, _) in streams)
        {
            // GroupQueryAttention takes per-row lengths: seqlens_k = (sum of attention_mask over a row) - 1,
            // total_sequence_length = width of attention_mask; both int32.
            var m = $"/model/{prefix}attn_mask_reformat";
            g.AddNode("ReduceSum", [prefix + "attention_mask", "const_axes_1"], [prefix + "mask_rowsum"], $"{m}/ReduceSum", "", OnnxAttribute.Int("keepdims", 0));
            g.AddNode("Sub", [prefix + "mask_rowsum", "const_one"], [prefix + "seqlens_k_int64"], $"{m}/Sub");
            g.AddNode("Cast", [prefix + "seqlens_k_int64"], [prefix + "seqlens_k"], $"{m}/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Int32));
            g.AddNode("Shape", [prefix + "attention_mask"], [prefix + "mask_shape"], $"{m}/Shape");
            g.AddNode("Gather", [prefix + "mask_shape", "const_one"], [prefix + "total_seq_len_int64"], $"{m}/Gather", "", OnnxAttribute.Int("axis", 0));
            g.AddNode("Cast", [prefix + "total_seq_len_int64"], [prefix + "total_seq_len"], $"{m}/Cast_1", "", OnnxAttribute.Int("to", (long)TensorElementType.Int32));
        }

        AddLoraInputs(g, o, mixed);
        x = "embeddings";
        for (var layer = 0; layer < o.LayerCount; layer++)
        {
            var p = $"/model/layers.{layer}";
            Add(g, o, LlamaWeightNames.InputNorm(layer), [h], w.Tensor(LlamaWeightNames.InputNorm(layer), h, 0.1, 1.0));
            Add(g, o, LlamaWeightNames.PostAttentionNorm(layer), [h], w.Tensor(LlamaWeightNames.PostAttentionNorm(layer), h, 0.1, 1.0));
            AddProjection(g, o, LlamaWeightNames.Q(layer), h, qDim, w.Tensor(LlamaWeightNames.Q(layer), h * qDim, 1 / Math.Sqrt(h)));
            AddProjection(g, o, LlamaWeightNames.K(layer), h, kvDim, w.Tensor(LlamaWeightNames.K(layer), h * kvDim, 1 / Math.Sqrt(h)));
            AddProjection(g, o, LlamaWeightNames.V(layer), h, kvDim, w.Tensor(LlamaWeightNames.V(layer), h * kvDim, 1 / Math.Sqrt(h)));
            AddProjection(g, o, LlamaWeightNames.O(layer), qDim, h, w.Tensor(LlamaWeightNames.O(layer), qDim * h, 1 / Math.Sqrt(qDim)));
            AddProjection(g, o, LlamaWeightNames.Gate(layer), h, o.IntermediateSize, w.Tensor(LlamaWeightNames.Gate(layer), h * o.IntermediateSize, 1 / Math.Sqrt(h)));
            AddProjection(g, o, LlamaWeightNames.Up(layer), h, o.IntermediateSize, w.Tensor(LlamaWeightNames.Up(layer), h * o.IntermediateSize, 1 / Math.Sqrt(h)));
            AddProjection(g, o, LlamaWeightNames.Down(layer), o.IntermediateSize, h, w.Tensor(LlamaWeightNames.Down(layer), o.IntermediateSize * h, 1 / Math.Sqrt(o.IntermediateSize)));

            RmsNorm(g, x, LlamaWeightNames.InputNorm(layer), $"{p}/input_layernorm", o.RmsNormEpsilon);
            var normed = $"{p}/input_layernorm/output_0";
            var qkv = new[] { ("q", LlamaWeightNames.Q(layer), qDim), ("k", LlamaWeightNames.K(layer), kvDim), ("v", LlamaWeightNames.V(layer), kvDim) };
            var products = qkv.Select(t => ProjectionMatMul(g, o, normed, t.Item2, h, t.Item3, $"{p}/attn/{t.Item1}_proj", layer)).ToArray();
            FlushLora(g); // the LoRA deltas of q, k and v, in one If
            for (var i = 0; i < qkv.Length; i++)
            {
                ProjectionTail(g, o, w, products[i], qkv[i].Item2, qkv[i].Item3, $"{p}/attn/{qkv[i].Item1}_proj", layer, mixed);
            }

            var attention = $"{p}/attn/GroupQueryAttention/output_0";
            if (mixed)
            {
                // Split q/k/v back into the two streams, attend each over its own past, and join again.
                var parts = new Dictionary<string, (string Decode, string Chunk)>();
                foreach (var (proj, dims) in new[] { ("q", "q"), ("k", "kv"), ("v", "kv") })
                {
                    var y = $"{p}/attn/{proj}_proj/output_0";
                    g.AddNode("Split", [y, "split_sizes"], [$"{y}/decode_2d", $"{y}/chunk_2d"], $"{p}/attn/{proj}_proj/Split", "", OnnxAttribute.Int("axis", 0));
                    g.AddNode("Reshape", [$"{y}/decode_2d", $"const_decode_{dims}"], [$"{y}/decode"], $"{p}/attn/{proj}_proj/Reshape");
                    g.AddNode("Reshape", [$"{y}/chunk_2d", $"const_chunk_{dims}"], [$"{y}/chunk"], $"{p}/attn/{proj}_proj/Reshape_chunk");
                    parts[proj] = ($"{y}/decode", $"{y}/chunk");
                }

                Attention(g, o, layer, parts["q"].Decode, parts["k"].Decode, parts["v"].Decode, "", $"{attention}/decode", $"{p}/attn/GroupQueryAttention");
                Attention(g, o, layer, parts["q"].Chunk, parts["k"].Chunk, parts["v"].Chunk, "chunk_", $"{attention}/chunk", $"{p}/attn/GroupQueryAttention_chunk");
                g.AddNode("Reshape", [$"{attention}/decode", qDim == h ? "const_rows_h" : "const_rows_q"], [$"{attention}/decode_2d"], $"{p}/attn/Reshape");
                g.AddNode("Reshape", [$"{attention}/chunk", qDim == h ? "const_rows_h" : "const_rows_q"], [$"{attention}/chunk_2d"], $"{p}/attn/Reshape_chunk");
                g.AddNode("Concat", [$"{attention}/decode_2d", $"{attention}/chunk_2d"], [attention], $"{p}/attn/Concat", "", OnnxAttribute.Int("axis", 0));
            }
            else
            {
                Attention(g, o, layer, $"{p}/attn/q_proj/output_0", $"{p}/attn/k_proj/output_0", $"{p}/attn/v_proj/output_0", "", attention, $"{p}/attn/GroupQueryAttention");
            }

            MatMul(g, o, attention, LlamaWeightNames.O(layer), qDim, h, $"{p}/attn/o_proj/output_0", $"{p}/attn/o_proj/MatMul");
            FlushLora(g);
            g.AddNode("Add", [x, $"{p}/attn/o_proj/output_0"], [$"{p}/residual_attn/output_0"], $"{p}/residual_attn/Add");
            x = $"{p}/residual_attn/output_0";

            RmsNorm(g, x, LlamaWeightNames.PostAttentionNorm(layer), $"{p}/post_attention_layernorm", o.RmsNormEpsilon);
            var normed2 = $"{p}/post_attention_layernorm/output_0";
            MatMul(g, o, normed2, LlamaWeightNames.Gate(layer), h, o.IntermediateSize, $"{p}/mlp/gate_proj/output_0", $"{p}/mlp/gate_proj/MatMul");
            MatMul(g, o, normed2, LlamaWeightNames.Up(layer), h, o.IntermediateSize, $"{p}/mlp/up_proj/output_0", $"{p}/mlp/up_proj/MatMul");
            FlushLora(g); // gate and up in one If
            g.AddNode("Sigmoid", [$"{p}/mlp/gate_proj/output_0"], [$"{p}/mlp/act_fn/Sigmoid/output_0"], $"{p}/mlp/act_fn/Sigmoid");
            g.AddNode("Mul", [$"{p}/mlp/gate_proj/output_0", $"{p}/mlp/act_fn/Sigmoid/output_0"], [$"{p}/mlp/act_fn/Mul/output_0"], $"{p}/mlp/act_fn/Mul");
            g.AddNode("Mul", [$"{p}/mlp/act_fn/Mul/output_0", $"{p}/mlp/up_proj/output_0"], [$"{p}/mlp/Mul/output_0"], $"{p}/mlp/Mul");
            MatMul(g, o, $"{p}/mlp/Mul/output_0", LlamaWeightNames.Down(layer), o.IntermediateSize, h, $"{p}/mlp/down_proj/output_0", $"{p}/mlp/down_proj/MatMul");
            FlushLora(g);
            g.AddNode("Add", [x, $"{p}/mlp/down_proj/output_0"], [$"{p}/residual_mlp/output_0"], $"{p}/residual_mlp/Add");
            x = $"{p}/residual_mlp/output_0";
        }

        Add(g, o, LlamaWeightNames.FinalNorm, [h], w.Tensor(LlamaWeightNames.FinalNorm, h, 0.1, 1.0));
        AddProjection(g, o, LlamaWeightNames.LmHead, h, o.VocabSize, w.Tensor(LlamaWeightNames.LmHead, h * o.VocabSize, 4 / Math.Sqrt(h)));
        RmsNorm(g, x, LlamaWeightNames.FinalNorm, "/model/norm", o.RmsNormEpsilon);
        var logits = CastsAroundAttention(o) ? "/lm_head/MatMul/output_0" : "logits";
        if (mixed)
        {
            // One lm_head MatMul writes straight into the output (splitting [B + C, V] logits would copy them all).
            g.AddNode("Reshape", ["/model/norm/output_0", qDim == h ? "const_decode_q" : "const_decode_h"], ["/model/norm/output_3d"], "/model/norm/Reshape");
            MatMul(g, o, "/model/norm/output_3d", LlamaWeightNames.LmHead, h, o.VocabSize, logits, "/lm_head/MatMul");
        }
        else
        {
            MatMul(g, o, "/model/norm/output_0", LlamaWeightNames.LmHead, h, o.VocabSize, logits, "/lm_head/MatMul");
        }

        CheckLoraFlushed(g);
        if (CastsAroundAttention(o))
        {
            g.AddNode("Cast", [logits], ["logits"], "/lm_head/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Float16));
        }

        return model;
    }

    private static void Attention(OnnxGraph g, ModelBuilderOptions o, int layer, string q, string k, string v, string stream, string output, string name)
    {
        var present = stream == "" ? "present" : stream + "present";
        var (cos, sin, result) = (LlamaWeightNames.CosCache, LlamaWeightNames.SinCache, output);
        if (CastsAroundAttention(o))
        {
            // The cache is GroupQueryAttention's own type (it reads and writes the shared buffer), so the op runs
            // in float16 between casts of its inputs and of its output.
            foreach (var (input, which) in new[] { (q, "q"), (k, "k"), (v, "v") })
            {
                g.AddNode("Cast", [input], [input + Fp16Suffix], $"{name}/Cast_{which}", "", OnnxAttribute.Int("to", (long)TensorElementType.Float16));
            }

            (q, k, v, cos, sin, result) = (q + Fp16Suffix, k + Fp16Suffix, v + Fp16Suffix, cos + Fp16Suffix, sin + Fp16Suffix, output + Fp16Suffix);
        }

        g.AddNode(
            "GroupQueryAttention",
            [q, k, v, $"{stream}past_key_values.{layer}.key", $"{stream}past_key_values.{layer}.value", stream + "seqlens_k", stream + "total_seq_len", cos, sin],
            [result, $"{present}.{layer}.key", $"{present}.{layer}.value"],
            name,
            "com.microsoft",
            OnnxAttribute.Int("num_heads", o.HeadCount),
            OnnxAttribute.Int("kv_num_heads", o.KvHeadCount),
            OnnxAttribute.Int("do_rotary", 1),
            OnnxAttribute.Int("rotary_interleaved", 0),
            OnnxAttribute.Float("scale", (float)(1 / Math.Sqrt(o.HeadSize))),
            OnnxAttribute.Int("local_window_size", -1));
        if (CastsAroundAttention(o))
        {
            g.AddNode("Cast", [result], [output], $"{name}/Cast_output", "", OnnxAttribute.Int("to", (long)TensorElementType.Float));
        }
    }

    /// <summary>Suffix of the float16 copies of a value (<see cref="ModelBuilderOptions.Fp16Io"/>).</summary>
    private const string Fp16Suffix = "/fp16";

    /// <summary>
    /// A float16 cache and logits around float32 arithmetic (<see cref="ModelBuilderOptions.Fp16Io"/> over fp32 or
    /// int4 weights) needs casts at attention and at the logits; with fp16 weights everything is float16 already.
    /// </summary>
    private static bool CastsAroundAttention(ModelBuilderOptions o) => o.Fp16Io && o.Precision != ModelPrecision.Fp16;

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

    /// <summary>
    /// A float weight: float16 when the model's weights are (<see cref="ModelPrecision.Fp16"/>: embeddings, norms,
    /// biases, rotary caches and projections alike, as ORT GenAI's fp16 exports store them), else float32.
    /// </summary>
    private static void Add(OnnxGraph g, ModelBuilderOptions o, string name, long[] dims, float[] values)
    {
        if (o.Precision != ModelPrecision.Fp16)
        {
            AddBytes(g, o, name, TensorElementType.Float, dims, MemoryMarshal.AsBytes(values.AsSpan()));
            return;
        }

        var halves = new Half[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            halves[i] = (Half)values[i]; // round to nearest even
        }

        AddBytes(g, o, name, TensorElementType.Float16, dims, MemoryMarshal.AsBytes(halves.AsSpan()));
    }

    /// <summary>An initializer: its bytes inline, or appended to the external data file while the builder streams.</summary>
    private static void AddBytes(OnnxGraph g, ModelBuilderOptions o, string name, TensorElementType type, long[] dims, ReadOnlySpan<byte> bytes) =>
        g.Initializers.Add(o.DataWriter is { } data ? data.Add(name, type, dims, bytes) : new OnnxTensor(name, type, dims, bytes.ToArray()));

    /// <summary>
    /// cos or sin of position * f_i, f_i = theta^(-2i/headSize) after <see cref="ModelBuilderOptions.RopeScaling"/>,
    /// [context, headSize/2] (non-interleaved rotary).
    /// </summary>
    private static float[] RotaryCache(ModelBuilderOptions o, Func<double, double> f)
    {
        var half = o.HeadSize / 2;
        var cache = new float[o.ContextLength * half];
        for (var pos = 0; pos < o.ContextLength; pos++)
        {
            for (var i = 0; i < half; i++)
            {
                var frequency = Math.Pow(o.RopeTheta, -2.0 * i / o.HeadSize);
                cache[(pos * half) + i] = (float)f(pos * (o.RopeScaling?.Apply(frequency) ?? frequency));
            }
        }

        return cache;
    }
}
