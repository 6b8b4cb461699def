namespace Flywheel.Adapters;

/// <summary>
/// One adapted projection: y = x W + Scale * (x A^T) B^T, in PEFT's orientation.
/// A is lora_A.weight [Rank, InCount] and B is lora_B.weight [OutCount, Rank], both row-major float32
/// (F16 and BF16 files are widened on load). The arrays belong to the adapter and are not to be written.
/// </summary>
public sealed record LoraWeights(int Rank, int InCount, int OutCount, float[] A, float[] B, double Scale);
