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

    public float RmsNormEpsilon { get; init; } = 1e-5f;

    public int Seed { get; init; } = 1234;

    /// <summary>The weights; null draws seeded dummy weights (<see cref="Seed"/>).</summary>
    public ILlamaWeightSource? Weights { get; init; }

    /// <summary>q/k/v projections have biases (Qwen2), added after their MatMuls.</summary>
    public bool AttentionBias { get; init; }

    /// <summary>q and k are RMS-normalized per head before rotary (Qwen3).</summary>
    public bool QkNorm { get; init; }

    /// <summary>How the projection and lm_head weights are stored (embeddings and norms stay fp32).</summary>
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
    /// Projections that take LoRA adapters at run time (empty: none, the plain graph). Adds the inputs named
    /// by <see cref="Adapters.LoraGraphNames"/>; see LlamaModelBuilder.Lora.cs.
    /// </summary>
    public IReadOnlyList<Adapters.LoraTarget> LoraTargets { get; init; } = [];

    /// <summary>
    /// LoRA graph variant for comparison: multiply by every slot's A and B (no Gather of the Run's active
    /// slots); compute grows with the slot count whatever the Run holds.
    /// </summary>
    public bool LoraDense { get; init; }

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

    public static ModelBuilderOptions Preset(string name) => name switch
    {
        "tiny" => Tiny,
        "bench" => Bench,
        _ => throw new ArgumentException($"unknown preset '{name}' (expected tiny or bench)", nameof(name)),
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
        Check(AccuracyLevel is >= 0 and <= 4, $"accuracy level ({AccuracyLevel}) must be 0-4");
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
}
