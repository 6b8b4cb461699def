namespace Flywheel.Models.Building;

/// <summary>Sizes and seed of a LLaMA-architecture decoder made with dummy weights.</summary>
public sealed record ModelBuilderOptions
{
    public int LayerCount { get; init; } = 2;

    public int HiddenSize { get; init; } = 64;

    public int HeadCount { get; init; } = 4;

    public int KvHeadCount { get; init; } = 2;

    public int IntermediateSize { get; init; } = 128;

    public int VocabSize { get; init; } = 512;

    public int ContextLength { get; init; } = 256;

    public double RopeTheta { get; init; } = 10000;

    /// <summary>rope_scaling of the rotary frequencies (Llama 3.1's llama3, or linear); null for none.</summary>
    public RopeScaling? RopeScaling { get; init; }

    public float RmsNormEpsilon { get; init; } = 1e-5f;

    public int Seed { get; init; } = 1234;

    /// <summary>The weights; null draws seeded dummy weights (<see cref="Seed"/>).</summary>
    public ILlamaWeightSource? Weights { get; init; }

    /// <summary>q/k/v projections have biases (Qwen2), added after their MatMuls.</summary>
    public bool AttentionBias { get; init; }

    /// <summary>q and k are RMS-normalized per head before rotary (Qwen3).</summary>
    public bool QkNorm { get; init; }

    /// <summary>How the weights are stored: int4 quantizes the projections and lm_head (embeddings and norms stay fp32); fp16 stores every weight in float16.</summary>
    public ModelPrecision Precision { get; init; } = ModelPrecision.Fp32;

    /// <summary>int4: rows of K quantized together (a power of two, at least 16; ORT GenAI's default 32).</summary>
    public int BlockSize { get; init; } = 32;

    /// <summary>
    /// int4: MatMulNBits accuracy_level, the minimum compute precision (0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8:
    /// activations quantized to int8 per block). ORT GenAI's CPU exports use 4.
    /// </summary>
    public int AccuracyLevel { get; init; } = 4;

    /// <summary>
    /// The KV cache (past/present) and logits are float16, as in ORT GenAI's CUDA exports, while the weights
    /// and the arithmetic outside attention stay float32: q/k/v are cast to float16 before GroupQueryAttention
    /// (which then reads and writes the float16 cache itself) and its output back, and the fp32 logits are cast
    /// last. Lets the engine's fp16 KV and logits paths run on CPU next to an fp32 twin with the same weights.
    /// </summary>
    public bool Fp16Io { get; init; }

    /// <summary>
    /// Weights go to <see cref="ModelFolderWriter.ExternalDataFileName"/> beside model.onnx (ONNX external data, as
    /// ORT GenAI writes its models), streamed there tensor by tensor as they are made; null decides by size: external
    /// above 256 MiB of weights. An inline model is held whole in memory while it is built and serialized (and must
    /// stay under protobuf's 2 GB limit); tests' and benchmarks' small folders stay single files.
    /// </summary>
    public bool? ExternalData { get; init; }

    /// <summary>Whether a folder written with these options keeps its weights in external data.</summary>
    public bool WritesExternalData => ExternalData ?? WeightBytes > (256L << 20);

    /// <summary>Approximate bytes of the weights in this precision (embeddings stay float32 in int4).</summary>
    public long WeightBytes
    {
        get
        {
            long h = HiddenSize, q = HeadCount * HeadSize, kv = KvHeadCount * HeadSize, i = IntermediateSize, v = VocabSize;
            var projections = (LayerCount * ((2 * h * q) + (2 * h * kv) + (3 * h * i))) + (h * v);
            var embedding = v * h;
            return Precision switch
            {
                ModelPrecision.Fp16 => 2 * (projections + embedding),
                ModelPrecision.Int4 => (projections / 2) + (projections / BlockSize * 4) + (4 * embedding),
                _ => 4 * (projections + embedding),
            };
        }
    }

    /// <summary>The open external data file while a folder is being written (set by <see cref="ModelFolderWriter"/>).</summary>
    internal Onnx.Proto.ExternalDataWriter? DataWriter { get; init; }

    /// <summary>
    /// Projections that take LoRA adapters at run time (empty: none, the plain graph). Adds the inputs named
    /// by <see cref="Adapters.LoraGraphNames"/>; see LlamaModelBuilder.Lora.cs.
    /// </summary>
    public IReadOnlyList<Adapters.LoraTarget> LoraTargets { get; init; } = [];

    /// <summary>Width of an attention head; null means hidden / heads (Qwen3 sets its own head_dim).</summary>
    public int? HeadDim { get; init; }

    public int HeadSize => HeadDim ?? HiddenSize / HeadCount;

    /// <summary>Tests: 2 layers, hidden 64; builds and runs in milliseconds.</summary>
    public static ModelBuilderOptions Tiny => new();

    /// <summary>Benchmarks: about 25M parameters plus embeddings (hidden 512, 8 layers, 8 heads, 4 KV heads).</summary>
    public static ModelBuilderOptions Bench => new()
    {
        LayerCount = 8,
        HiddenSize = 512,
        HeadCount = 8,
        KvHeadCount = 4,
        IntermediateSize = 1408,
        VocabSize = 32000,
        ContextLength = 2048,
    };

    /// <summary>
    /// A realistic small model: about 0.6B parameters with a Llama-3-sized vocabulary (128256), the shape of
    /// Qwen2.5-0.5B's decoder (24 layers, hidden 896, 14 heads, 2 KV heads, intermediate 4864) with an untied lm_head.
    /// </summary>
    public static ModelBuilderOptions Small => new()
    {
        LayerCount = 24,
        HiddenSize = 896,
        HeadCount = 14,
        KvHeadCount = 2,
        IntermediateSize = 4864,
        VocabSize = 128256,
        ContextLength = 4096,
        RopeTheta = 500000,
    };

    /// <summary>
    /// The shape of Llama-3.2-1B's decoder (16 layers, hidden 2048, 32 heads, 8 KV heads, intermediate 8192,
    /// Llama-3's vocabulary) with an untied lm_head: about 1.5B parameters, 6 GB in fp32. A rank-16 adapter on all
    /// seven projections is 0.75% of its weights (1.5% of the small preset's, 0.52% of Llama-3-8B's), so the
    /// multi-LoRA benchmark measures here what adapters cost on a base nearer the ones people adapt
    /// (docs/decisions/lora-adapters.md).
    /// </summary>
    public static ModelBuilderOptions Medium => new()
    {
        LayerCount = 16,
        HiddenSize = 2048,
        HeadCount = 32,
        KvHeadCount = 8,
        IntermediateSize = 8192,
        VocabSize = 128256,
        ContextLength = 4096,
        RopeTheta = 500000,
    };

    public static ModelBuilderOptions Preset(string name) => name switch
    {
        "tiny" => Tiny,
        "bench" => Bench,
        "small" => Small,
        "medium" => Medium,
        _ => throw new ArgumentException($"unknown preset '{name}' (expected tiny, bench, small or medium)", nameof(name)),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent size.</summary>
    public void Validate()
    {
        Check(LayerCount >= 1, "layers must be at least 1");
        Check(HeadCount >= 1 && KvHeadCount >= 1, "heads and kv-heads must be at least 1");
        Check(HeadDim is not null || HiddenSize % HeadCount == 0, $"hidden ({HiddenSize}) must be a multiple of heads ({HeadCount})");
        Check(HeadCount % KvHeadCount == 0, $"heads ({HeadCount}) must be a multiple of kv-heads ({KvHeadCount})");
        Check(HeadSize % 2 == 0, $"head size (hidden/heads = {HeadSize}) must be even for rotary embeddings");
        Check(IntermediateSize >= 1 && VocabSize >= 2, "intermediate size must be positive and vocab at least 2");
        Check(ContextLength >= 2, "context must be at least 2");
        Check(BlockSize >= 16 && (BlockSize & (BlockSize - 1)) == 0, $"block size ({BlockSize}) must be a power of two, at least 16");
        RopeScaling?.Validate();
        Check(AccuracyLevel is >= 0 and <= 4, $"accuracy level ({AccuracyLevel}) must be 0-4");
        // The LoRA path's stacked A/B inputs and its arithmetic are float32 (the engine's slot buffers are too).
        Check(LoraTargets.Count == 0 || Precision != ModelPrecision.Fp16, "--lora cannot be combined with --precision fp16: the LoRA inputs and their arithmetic are float32 (use --precision fp32 or int4 with --lora)");
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new ArgumentException(message);
        }
    }
}

/// <summary>Weight precision of a built model.</summary>
public enum ModelPrecision
{
    /// <summary>float32 weights, KV cache and logits.</summary>
    Fp32,

    /// <summary>4-bit symmetric block-quantized projections (MatMulNBits); fp32 KV cache and logits, as CPU exports.</summary>
    Int4,

    /// <summary>
    /// float16 weights (every float initializer), float16 arithmetic, KV cache and logits: ORT GenAI's CUDA fp16
    /// export. RMSNorm still accumulates in float32 (stash_type 1), as the op does for float16 inputs.
    /// </summary>
    Fp16,
}
