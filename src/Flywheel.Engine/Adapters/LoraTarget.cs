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
    public static string ModulePath(int layer, LoraTarget target)
    {
        var block = target is LoraTarget.GateProj or LoraTarget.UpProj or LoraTarget.DownProj ? "mlp" : "self_attn";
        return $"base_model.model.model.layers.{layer}.{block}.{PeftName(target)}";
    }
}
