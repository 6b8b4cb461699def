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
    /// The shape of the model folder <paramref name="modelDirectory"/>: genai_config.json gives all but the
    /// intermediate size, which ORT GenAI's config does not carry; it is read from layer 0's gate projection in
    /// the graph (a MatMul weight [hidden, intermediate], or a MatMulNBits node's N). Only the graph's outline is
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

        return new AdapterBaseShape(d.NumHiddenLayers, d.HiddenSize, d.NumAttentionHeads, d.NumKeyValueHeads, d.HeadSize, size);
    }
}
