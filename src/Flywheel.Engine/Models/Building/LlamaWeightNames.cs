namespace Flywheel.Models.Building;

/// <summary>Initializer names of the decoder graph, as ORT GenAI's model builder names them.</summary>
public static class LlamaWeightNames
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.MatMul.weight";
    public const string CosCache = "cos_cache";
    public const string SinCache = "sin_cache";

    public static string InputNorm(int layer) => $"model.layers.{layer}.input_layernorm.weight";

    public static string PostAttentionNorm(int layer) => $"model.layers.{layer}.post_attention_layernorm.weight";

    public static string Q(int layer) => $"model.layers.{layer}.attn.q_proj.MatMul.weight";

    public static string K(int layer) => $"model.layers.{layer}.attn.k_proj.MatMul.weight";

    public static string V(int layer) => $"model.layers.{layer}.attn.v_proj.MatMul.weight";

    public static string O(int layer) => $"model.layers.{layer}.attn.o_proj.MatMul.weight";

    public static string Gate(int layer) => $"model.layers.{layer}.mlp.gate_proj.MatMul.weight";

    public static string Up(int layer) => $"model.layers.{layer}.mlp.up_proj.MatMul.weight";

    public static string Down(int layer) => $"model.layers.{layer}.mlp.down_proj.MatMul.weight";

    /// <summary>The bias added after a projection (Qwen2's q/k/v): "...q_proj.MatMul.weight" becomes "...q_proj.Add.bias".</summary>
    public static string BiasOf(string matMulWeight) => matMulWeight.Replace(".MatMul.weight", ".Add.bias", StringComparison.Ordinal);

    /// <summary>Qwen3's per-head RMSNorm weight on q ([headSize]).</summary>
    public static string QNorm(int layer) => $"model.layers.{layer}.attn.q_norm.weight";

    /// <summary>Qwen3's per-head RMSNorm weight on k ([headSize]).</summary>
    public static string KNorm(int layer) => $"model.layers.{layer}.attn.k_norm.weight";
}
