namespace Flywheel.Adapters;

/// <summary>
/// Names of the LoRA inputs of a graph the builder writes with <c>make-model --lora</c>. Their presence in a
/// session's inputs is what tells the engine that a model folder can run adapters, and which targets.
/// </summary>
public static class LoraGraphNames
{
    /// <summary>int64 [batch_size]: each row's adapter slot (0 = the base model).</summary>
    public const string SlotIds = "lora_slot_ids";

    /// <summary>int64 [chunk_batch] (mixed graph): the prompt chunk's adapter slot.</summary>
    public const string ChunkSlotIds = "chunk_lora_slot_ids";

    /// <summary>Symbolic dimension of the stacked buffers' slot axis (MaxLoraCount + 1).</summary>
    public const string SlotDim = "lora_slots";

    /// <summary>Symbolic dimension of the stacked buffers' rank axis (MaxLoraRank).</summary>
    public const string RankDim = "lora_rank";

    /// <summary>Whether <paramref name="inputName"/> is one of the LoRA inputs.</summary>
    public static bool IsLoraInput(string inputName) =>
        inputName is SlotIds or ChunkSlotIds || inputName.StartsWith("lora.", StringComparison.Ordinal);

    /// <summary>float [slots, in, rank]: every slot's A (lora_A.weight transposed), zero-padded to the rank.</summary>
    public static string A(int layer, LoraTarget target) => $"lora.{layer}.{LoraTargets.PeftName(target)}.A";

    /// <summary>float [slots, rank, out]: every slot's scale * B (lora_B.weight transposed), zero-padded to the rank.</summary>
    public static string B(int layer, LoraTarget target) => $"lora.{layer}.{LoraTargets.PeftName(target)}.B";
}
