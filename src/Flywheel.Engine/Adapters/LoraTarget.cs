namespace Flywheel.Adapters;

/// <summary>The seven projections of a LLaMA-architecture layer that a LoRA adapter may adapt.</summary>
public enum LoraTarget
{
    QProj,
    KProj,
    VProj,
    OProj,
    GateProj,
    UpProj,
    DownProj,
}

/// <summary>PEFT's names for <see cref="LoraTarget"/> and where each sits in a Hugging Face LLaMA module tree.</summary>
public static class LoraTargets
{
    /// <summary>Every target, in layer order (attention, then MLP).</summary>
    public static IReadOnlyList<LoraTarget> All { get; } = Enum.GetValues<LoraTarget>();

    /// <summary>The module name PEFT's <c>target_modules</c> uses ("q_proj", ..., "down_proj").</summary>
    public static string PeftName(LoraTarget target) => target switch
    {
        LoraTarget.QProj => "q_proj",
        LoraTarget.KProj => "k_proj",
        LoraTarget.VProj => "v_proj",
        LoraTarget.OProj => "o_proj",
        LoraTarget.GateProj => "gate_proj",
        LoraTarget.UpProj => "up_proj",
        LoraTarget.DownProj => "down_proj",
        _ => throw new ArgumentOutOfRangeException(nameof(target)),
    };

    /// <summary>The target PEFT calls <paramref name="name"/>; false for any other module name.</summary>
    public static bool TryParse(string name, out LoraTarget target)
    {
        foreach (var t in All)
        {
            if (PeftName(t) == name)
            {
                target = t;
                return true;
            }
        }

        target = default;
        return false;
    }

    /// <summary>
    /// The tensor key prefix PEFT's <c>save_pretrained</c> writes for one adapted module, e.g.
    /// "base_model.model.model.layers.3.self_attn.q_proj" (PeftModel wraps the CausalLM, whose decoder is "model").
    /// </summary>
    public static string ModulePath(int layer, LoraTarget target) => ModulePath(layer, LoraModule.Of(target));

    /// <summary>The tensor key prefix of <paramref name="module"/> in <paramref name="layer"/> (see <see cref="ModulePath(int, LoraTarget)"/>).</summary>
    public static string ModulePath(int layer, LoraModule module) => $"base_model.model.model.layers.{layer}.{module.Block}.{module.Name}";
}

/// <summary>
/// A module PEFT may adapt in a LLaMA-family layer: one of the seven projections, or one of Phi-3's fused ones,
/// <c>qkv_proj</c> (q, k and v stacked along the output rows) and <c>gate_up_proj</c> (gate then up). A fused
/// module's adapter is exactly its parts' adapters: with lora_B [out_1 + out_2 (+ out_3), r] and a shared
/// lora_A [r, in], the delta s * x A^T B^T of the fused output is, block of columns by block of columns, s * x A^T
/// B_i^T with B_i the rows of B for part i. So the projections of the graph (always split) take it unchanged.
/// </summary>
/// <param name="Name">The module name in target_modules and in tensor keys.</param>
/// <param name="Block">"self_attn" or "mlp", the submodule the projection sits in.</param>
/// <param name="Parts">The graph's projections it covers, in row order of lora_B.</param>
public sealed record LoraModule(string Name, string Block, IReadOnlyList<LoraTarget> Parts)
{
    /// <summary>Phi-3's fused attention input projection: [q; k; v].</summary>
    public static LoraModule QkvProj { get; } = new("qkv_proj", "self_attn", [LoraTarget.QProj, LoraTarget.KProj, LoraTarget.VProj]);

    /// <summary>Phi-3's fused MLP input projection: [gate; up].</summary>
    public static LoraModule GateUpProj { get; } = new("gate_up_proj", "mlp", [LoraTarget.GateProj, LoraTarget.UpProj]);

    /// <summary>Every module name a LoRA adapter may target: the seven projections, then the two fused ones.</summary>
    public static IReadOnlyList<LoraModule> All { get; } = [.. LoraTargets.All.Select(Of), QkvProj, GateUpProj];

    /// <summary>The module of a single projection.</summary>
    public static LoraModule Of(LoraTarget target) =>
        new(LoraTargets.PeftName(target), target is LoraTarget.GateProj or LoraTarget.UpProj or LoraTarget.DownProj ? "mlp" : "self_attn", [target]);

    /// <summary>The module PEFT calls <paramref name="name"/>; null for any other name.</summary>
    public static LoraModule? Find(string name) => All.FirstOrDefault(m => m.Name == name);

    /// <summary>Whether this is a fused module (more than one part).</summary>
    public bool IsFused => Parts.Count > 1;

    public bool Equals(LoraModule? other) => other is not null && other.Name == Name;

    public override int GetHashCode() => Name.GetHashCode(StringComparison.Ordinal);
}
