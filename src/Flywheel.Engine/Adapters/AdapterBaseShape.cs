using Flywheel.Models;
using Flywheel.Models.Building;
using Flywheel.Onnx.Proto;

namespace Flywheel.Adapters;

/// <summary>
/// The sizes of a base model that decide every LoRA tensor's shape: an adapter is checked against these
/// before any of it is used, so a mismatch is a load error naming the tensor, never a wrong answer.
/// </summary>
public sealed record AdapterBaseShape(int LayerCount, int HiddenSize, int HeadCount, int KvHeadCount, int HeadSize, int IntermediateSize)
{
    /// <summary>The genai_config.json model.type of checkpoints with fused projections (ORT GenAI's and the importer's for Phi-3).</summary>
    public const string FusedModelType = "phi3";

    /// <summary>Input and output width of <paramref name="target"/>: lora_A is [r, in], lora_B is [out, r].</summary>
    public (int In, int Out) Dimensions(LoraTarget target) => target switch
    {
        LoraTarget.QProj => (HiddenSize, HeadCount * HeadSize),
        LoraTarget.KProj or LoraTarget.VProj => (HiddenSize, KvHeadCount * HeadSize),
        LoraTarget.OProj => (HeadCount * HeadSize, HiddenSize),
        LoraTarget.GateProj or LoraTarget.UpProj => (HiddenSize, IntermediateSize),
        LoraTarget.DownProj => (IntermediateSize, HiddenSize),
        _ => throw new ArgumentOutOfRangeException(nameof(target)),
    };

    /// <summary>
    /// The base's checkpoint fuses q, k and v into qkv_proj and gate and up into gate_up_proj (Phi-3), so PEFT
    /// adapters trained on it name those modules (<see cref="LoraModule"/>); the graph's projections are split either way.
    /// </summary>
    public bool FusesProjections { get; init; }

    /// <summary>
    /// The modules a PEFT adapter of <paramref name="targets"/> names on this base, in layer order: one per
    /// projection, except that on a fused base (<see cref="FusesProjections"/>) a fused module's parts are that
    /// module. Throws <see cref="ArgumentException"/> when the targets hold only some of a fused module's parts,
    /// which PEFT cannot adapt on such a base (its model has no q_proj to name).
    /// </summary>
    public IReadOnlyList<LoraModule> ModulesFor(IReadOnlyList<LoraTarget> targets)
    {
        var modules = new List<LoraModule>();
        foreach (var target in targets.Distinct().Order())
        {
            var module = FusesProjections ? LoraModule.All.FirstOrDefault(m => m.IsFused && m.Parts.Contains(target)) ?? LoraModule.Of(target) : LoraModule.Of(target);
            if (modules.Contains(module))
            {
                continue;
            }

            if (module.Parts.FirstOrDefault(p => !targets.Contains(p), (LoraTarget)(-1)) is var missing && missing >= 0)
            {
                throw new ArgumentException($"{LoraTargets.PeftName(missing)} is missing: this base fuses {string.Join(", ", module.Parts.Select(LoraTargets.PeftName))} into {module.Name} (as Phi-3 does), " +
                    $"which PEFT adapts whole; name {module.Name} or all of its parts");
            }

            modules.Add(module);
        }

        return modules;
    }

    /// <summary>
    /// The shape of the model folder <paramref name="modelDirectory"/>: genai_config.json gives all but the
    /// intermediate size, which ORT GenAI's config does not carry; it is read from layer 0's gate projection in
    /// the graph (a MatMul weight [hidden, intermediate], or a MatMulNBits node's N). A model.type of
    /// <see cref="FusedModelType"/> sets <see cref="FusesProjections"/>. Only the graph's outline is
    /// read (<see cref="OnnxGraphOutline"/>: the weights are seeked past, inline or in model.onnx.data), so this
    /// costs milliseconds and little memory whatever the model's size. Throws <see cref="ModelConfigException"/>.
    /// </summary>
    public static AdapterBaseShape FromModelFolder(string modelDirectory)
    {
        var config = GenAiConfig.Load(Path.Combine(modelDirectory, "genai_config.json"));
        var d = config.Decoder;
        var modelPath = Path.Combine(modelDirectory, d.Filename);
        if (!File.Exists(modelPath))
        {
            throw new ModelConfigException($"{modelPath}: file not found (needed for the base model's intermediate size).");
        }

        OnnxGraphOutline graph;
        try
        {
            graph = OnnxGraphOutline.Read(modelPath);
        }
        catch (InvalidDataException e)
        {
            throw new ModelConfigException($"{modelPath}: not a readable ONNX model ({e.Message})");
        }

        var gate = LlamaWeightNames.Gate(0);
        int? intermediate = null;
        if (graph.Initializers.FirstOrDefault(t => t.Name == gate) is { Dims: [_, var n] })
        {
            intermediate = checked((int)n);
        }
        else if (graph.Nodes.FirstOrDefault(node => node.OpType == "MatMulNBits" && node.Inputs.Count > 1 && node.Inputs[1] == gate + LlamaModelBuilder.Int4WeightSuffix) is { } packed
            && packed.Attributes.FirstOrDefault(a => a.Name == "N") is { } attribute)
        {
            intermediate = checked((int)attribute.IntValue);
        }

        if (intermediate is not { } size)
        {
            throw new ModelConfigException($"{modelPath}: no '{gate}' weight to read the intermediate size from; LoRA adapters need a graph written by the project's builder.");
        }

        return new AdapterBaseShape(d.NumHiddenLayers, d.HiddenSize, d.NumAttentionHeads, d.NumKeyValueHeads, d.HeadSize, size) { FusesProjections = config.ModelType == FusedModelType };
    }
}
