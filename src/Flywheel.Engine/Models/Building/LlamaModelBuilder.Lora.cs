using Flywheel.Adapters;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Models.Building;

/// <summary>
/// The LoRA-capable graph (<see cref="ModelBuilderOptions.LoraTargets"/>): every adapted projection becomes
/// y = x W + ((x A') * mask) B', where A' and B' are the adapters active in this Run, gathered from the
/// engine's stacked buffers, and the mask keeps, for each token, only its own adapter's rank columns.
/// </summary>
/// <remarks>
/// Each Run first finds its distinct adapter slots (Unique over the per-row slot ids, K of them) and gathers
/// only those: A' [in, K * r] and B' [K * r, out]. One MatMul over every token then computes all K
/// adapters' x A at once, the mask zeroes the columns of the adapters a token does not use, and a second
/// MatMul adds each token's own (x A) B. A per-row Gather of A and B (BGMV done with stock ONNX operators)
/// would copy an adapter's weights once per row, which costs more than the base weights themselves at a
/// few dozen rows; this reads each active adapter once per Run, and a Run of base rows only (K = 1, slot 0,
/// all zeros) adds r columns per projection. Scales are folded into B when an adapter is loaded.
/// </remarks>
public static partial class LlamaModelBuilder
{
    /// <summary>Adds the LoRA graph inputs (none when the options adapt nothing).</summary>
    private static void AddLoraInputs(OnnxGraph g, ModelBuilderOptions o, bool mixed)
    {
        if (o.LoraTargets.Count == 0)
        {
            return;
        }

        g.Inputs.Add(new OnnxValueInfo(LoraGraphNames.SlotIds, TensorElementType.Int64, ["batch_size"]));
        if (mixed)
        {
            g.Inputs.Add(new OnnxValueInfo(LoraGraphNames.ChunkSlotIds, TensorElementType.Int64, ["chunk_batch"]));
        }

        var shape = ShapeOf(o);
        for (var layer = 0; layer < o.LayerCount; layer++)
        {
            foreach (var target in o.LoraTargets)
            {
                var (inCount, outCount) = shape.Dimensions(target);
                g.Inputs.Add(new OnnxValueInfo(LoraGraphNames.A(layer, target), TensorElementType.Float, [(long)inCount, LoraGraphNames.SlotDim, LoraGraphNames.RankDim]));
                g.Inputs.Add(new OnnxValueInfo(LoraGraphNames.B(layer, target), TensorElementType.Float, [LoraGraphNames.SlotDim, LoraGraphNames.RankDim, (long)outCount]));
            }
        }

        // Per token: its adapter slot (mixed: the decode rows', then the chunk's slot for each chunk token).
        var ids = LoraGraphNames.SlotIds;
        if (mixed)
        {
            g.AddNode("Expand", [LoraGraphNames.ChunkSlotIds, "chunk_tokens"], ["/lora/chunk_token_slots"], "/lora/Expand_chunk");
            g.AddNode("Concat", [LoraGraphNames.SlotIds, "/lora/chunk_token_slots"], ["/lora/token_slots"], "/lora/Concat_slots", "", OnnxAttribute.Int("axis", 0));
            ids = "/lora/token_slots";
        }

        // The Run's distinct slots [K] and the one-hot mask [N, (1,) K * r] shared by every projection.
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_last_axis", [1], [-1]));
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_mask_shape", mixed ? [2] : [3], mixed ? [0, -1] : [0, 1, -1]));
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_in_flat", [2], [0, -1]));
        if (o.LoraDense)
        {
            // Every slot is "active": 0 .. slots - 1.
            g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_zero", [], [0]));
            g.AddNode("Shape", [LoraGraphNames.A(0, o.LoraTargets[0])], ["/lora/slot_count_1d"], "/lora/Shape_slots", "", OnnxAttribute.Int("start", 1), OnnxAttribute.Int("end", 2));
            g.AddNode("Squeeze", ["/lora/slot_count_1d"], ["/lora/slot_count"], "/lora/Squeeze_slots");
            g.AddNode("Range", ["/lora/const_zero", "/lora/slot_count", "const_one"], [LoraActive], "/lora/Range_slots");
        }
        else
        {
            g.AddNode("Unique", [ids], [LoraActive], "/lora/Unique", "", OnnxAttribute.Int("sorted", 1));
        }

        g.AddNode("Unsqueeze", [ids, "/lora/const_last_axis"], ["/lora/slots_column"], "/lora/Unsqueeze_slots");
        g.AddNode("Equal", ["/lora/slots_column", LoraActive], ["/lora/onehot_bool"], "/lora/Equal");
        g.AddNode("Cast", ["/lora/onehot_bool"], ["/lora/onehot"], "/lora/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Float));
        g.AddNode("Unsqueeze", ["/lora/onehot", "/lora/const_last_axis"], ["/lora/onehot_3d"], "/lora/Unsqueeze_onehot");
        var first = LoraGraphNames.A(0, o.LoraTargets[0]);
        g.AddNode("Shape", [first], ["/lora/rank"], "/lora/Shape_rank", "", OnnxAttribute.Int("start", 2), OnnxAttribute.Int("end", 3));
        g.AddNode("Shape", ["/lora/onehot"], ["/lora/onehot_shape"], "/lora/Shape_onehot");
        g.AddNode("Concat", ["/lora/onehot_shape", "/lora/rank"], ["/lora/mask_expand_shape"], "/lora/Concat_shape", "", OnnxAttribute.Int("axis", 0));
        g.AddNode("Expand", ["/lora/onehot_3d", "/lora/mask_expand_shape"], ["/lora/mask_3d"], "/lora/Expand_mask");
        g.AddNode("Reshape", ["/lora/mask_3d", "/lora/const_mask_shape"], [LoraMask], "/lora/Reshape_mask");

        // Whether any token of the Run uses an adapter: a Run of base rows only skips every LoRA branch.
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_base_slot", [], [0]));
        g.AddNode("ReduceMax", [ids], ["/lora/max_slot"], "/lora/ReduceMax_slots", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("Greater", ["/lora/max_slot", "/lora/const_base_slot"], [LoraAny], "/lora/Greater_any");
    }

    private const string LoraActive = "/lora/active_slots";
    private const string LoraMask = "/lora/mask";
    private const string LoraAny = "/lora/any_adapter";

    /// <summary>
    /// If <paramref name="weight"/> is an adapted projection, writes its MatMul to a base output and adds the
    /// LoRA delta into <paramref name="output"/>; returns false (nothing written) for any other weight.
    /// </summary>
    private static bool TryLoraMatMul(OnnxGraph g, ModelBuilderOptions o, string input, string weight, int k, int n, string output, string nodeName)
    {
        if (o.LoraTargets.Count == 0 || !TryParseProjection(weight, out var layer, out var target) || !o.LoraTargets.Contains(target))
        {
            return false;
        }

        var p = nodeName[..nodeName.LastIndexOf('/')] + "/lora";
        var outShape = $"/lora/const_out_flat_{n}";
        if (!g.Initializers.Any(t => t.Name == outShape))
        {
            g.Initializers.Add(OnnxTensor.FromInt64s(outShape, [2], [-1, n]));
        }

        // y = base, plus the delta only when the Run has adapter rows (If on one flag per Run): a base-only
        // Run then costs one If per projection instead of the LoRA nodes.
        MatMul(g, o with { LoraTargets = [] }, input, weight, k, n, $"{p}/base_output_0", nodeName);
        var rank = g.Inputs.Any(i => i.Name == LoraGraphNames.ChunkSlotIds) ? 2 : 3;
        var then = new OnnxGraph { Name = $"{p}/then" };
        var (a, b) = (LoraGraphNames.A(layer, target), LoraGraphNames.B(layer, target));
        if (!o.LoraDense)
        {
            then.AddNode("Gather", [a, LoraActive], [$"{p}/A_active"], $"{p}/Gather_A", "", OnnxAttribute.Int("axis", 1));
            then.AddNode("Gather", [b, LoraActive], [$"{p}/B_active"], $"{p}/Gather_B", "", OnnxAttribute.Int("axis", 0));
            (a, b) = ($"{p}/A_active", $"{p}/B_active");
        }

        then.AddNode("Reshape", [a, "/lora/const_in_flat"], [$"{p}/A_flat"], $"{p}/Reshape_A");
        then.AddNode("MatMul", [input, $"{p}/A_flat"], [$"{p}/xA"], $"{p}/MatMul_A");
        then.AddNode("Mul", [$"{p}/xA", LoraMask], [$"{p}/xA_masked"], $"{p}/Mul_mask");
        then.AddNode("Reshape", [b, outShape], [$"{p}/B_flat"], $"{p}/Reshape_B");
        then.AddNode("MatMul", [$"{p}/xA_masked", $"{p}/B_flat"], [$"{p}/delta"], $"{p}/MatMul_B");
        then.AddNode("Add", [$"{p}/base_output_0", $"{p}/delta"], [$"{p}/with_lora"], $"{p}/Add");
        then.Outputs.Add(BranchOutput($"{p}/with_lora", rank));
        var otherwise = new OnnxGraph { Name = $"{p}/else" };
        otherwise.AddNode("Identity", [$"{p}/base_output_0"], [$"{p}/base_only"], $"{p}/Identity");
        otherwise.Outputs.Add(BranchOutput($"{p}/base_only", rank));
        g.AddNode("If", [LoraAny], [output], $"{p}/If", "", OnnxAttribute.Graph("then_branch", then), OnnxAttribute.Graph("else_branch", otherwise));
        return true;
    }

    /// <summary>The layer and target of a projection weight named by <see cref="LlamaWeightNames"/>.</summary>
    private static bool TryParseProjection(string weight, out int layer, out LoraTarget target)
    {
        // "model.layers.{layer}.{attn|mlp}.{name}.MatMul.weight"
        var parts = weight.Split('.');
        layer = 0;
        target = default;
        return parts.Length == 7 && parts[0] == "model" && parts[1] == "layers" && parts[5] == "MatMul"
            && int.TryParse(parts[2], System.Globalization.CultureInfo.InvariantCulture, out layer)
            && LoraTargets.TryParse(parts[4], out target);
    }

    private static OnnxValueInfo BranchOutput(string name, int rank) =>
        new(name, TensorElementType.Float, [.. Enumerable.Range(0, rank).Select(d => (OnnxDim)$"{name}_dim{d}")]);

    private static AdapterBaseShape ShapeOf(ModelBuilderOptions o) =>
        new(o.LayerCount, o.HiddenSize, o.HeadCount, o.KvHeadCount, o.HeadSize, o.IntermediateSize);
}
