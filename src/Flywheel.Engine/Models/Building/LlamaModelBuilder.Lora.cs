using Flywheel.Adapters;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Models.Building;

/// <summary>
/// The LoRA-capable graph (<see cref="ModelBuilderOptions.LoraTargets"/>): every adapted projection becomes
/// y = x W + sum over slots s of ((x A[s]) * mask[s]) B[s], where A [slots, in, r] and B [slots, r, out] are the
/// engine's stacked buffers and mask[s] keeps only the tokens whose adapter is slot s.
/// </summary>
/// <remarks>
/// The engine binds views of the buffers that cover only slots 0 .. (highest loaded slot), so the cost
/// follows the loaded set, and nothing is copied per Run: x A over every bound slot is one broadcast
/// MatMul ([N, in] x [S, in, r] -> [S, N, r]); after the mask and a transpose of that small product to
/// [N, S * r], one MatMul by B viewed as [S * r, out] (contiguous, no copy) adds each token's own delta.
/// Slot 0 (the base) stays zero. The delta sits in the then-branch of an If on one flag per Run (any token
/// on an adapter), so a Run of base rows only costs one If per projection. Scales are folded into B when an
/// adapter is loaded.
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
                g.Inputs.Add(new OnnxValueInfo(LoraGraphNames.A(layer, target), TensorElementType.Float, [LoraGraphNames.SlotDim, (long)inCount, LoraGraphNames.RankDim]));
                g.Inputs.Add(new OnnxValueInfo(LoraGraphNames.B(layer, target), TensorElementType.Float, [LoraGraphNames.SlotDim, LoraGraphNames.RankDim, (long)outCount]));
            }
        }

        // Per token: its adapter slot [N] (mixed: the decode rows', then the chunk's slot for each chunk
        // token; otherwise each row's slot repeated over the row's tokens).
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_last_axis", [1], [-1]));
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_flat", [1], [-1]));
        string ids;
        if (mixed)
        {
            g.AddNode("Expand", [LoraGraphNames.ChunkSlotIds, "chunk_tokens"], ["/lora/chunk_token_slots"], "/lora/Expand_chunk");
            g.AddNode("Concat", [LoraGraphNames.SlotIds, "/lora/chunk_token_slots"], ["/lora/token_slots"], "/lora/Concat_slots", "", OnnxAttribute.Int("axis", 0));
            g.Initializers.Add(OnnxTensor.FromInt64s(LoraLeadShape, [2], [0, -1]));
            ids = "/lora/token_slots";
        }
        else
        {
            g.AddNode("Shape", ["input_ids"], ["/lora/rows_by_tokens"], "/lora/Shape_ids");
            g.AddNode("Unsqueeze", [LoraGraphNames.SlotIds, "/lora/const_last_axis"], ["/lora/row_slots"], "/lora/Unsqueeze_rows");
            g.AddNode("Expand", ["/lora/row_slots", "/lora/rows_by_tokens"], ["/lora/token_slots_2d"], "/lora/Expand_tokens");
            g.AddNode("Reshape", ["/lora/token_slots_2d", "/lora/const_flat"], ["/lora/token_slots"], "/lora/Reshape_tokens");
            g.AddNode("Concat", ["/lora/rows_by_tokens", "/lora/const_flat"], [LoraLeadShape], "/lora/Concat_lead", "", OnnxAttribute.Int("axis", 0));
            ids = "/lora/token_slots";
        }

        // mask [S, N, 1]: 1 where token n is on bound slot s.
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_zero", [], [0]));
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_slot_axis", [1], [1]));
        g.AddNode("Shape", [LoraGraphNames.A(0, o.LoraTargets[0])], ["/lora/slot_count_1d"], "/lora/Shape_slots", "", OnnxAttribute.Int("start", 0), OnnxAttribute.Int("end", 1));
        g.AddNode("Squeeze", ["/lora/slot_count_1d"], ["/lora/slot_count"], "/lora/Squeeze_slots");
        g.AddNode("Range", ["/lora/const_zero", "/lora/slot_count", "const_one"], ["/lora/bound_slots"], "/lora/Range_slots");
        g.AddNode("Unsqueeze", ["/lora/bound_slots", "/lora/const_slot_axis"], ["/lora/slots_column"], "/lora/Unsqueeze_slots");
        g.AddNode("Equal", ["/lora/slots_column", ids], ["/lora/onehot_bool"], "/lora/Equal");
        g.AddNode("Cast", ["/lora/onehot_bool"], ["/lora/onehot"], "/lora/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Float));
        g.AddNode("Unsqueeze", ["/lora/onehot", "/lora/const_last_axis"], [LoraMask], "/lora/Unsqueeze_mask");

        // Whether any token of the Run uses an adapter: a Run of base rows only skips every LoRA branch.
        g.AddNode("ReduceMax", [ids], ["/lora/max_slot"], "/lora/ReduceMax_slots", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("Greater", ["/lora/max_slot", "/lora/const_zero"], [LoraAny], "/lora/Greater_any");
    }

    private const string LoraLeadShape = "/lora/lead_shape";
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
        var outShape = Constant(g, $"/lora/const_out_flat_{n}", [-1, n]);
        var mixed = g.Inputs.Any(i => i.Name == LoraGraphNames.ChunkSlotIds);

        // y = base, plus the delta only when the Run has adapter rows: a base-only Run runs the else-branch,
        // which passes the base output through.
        MatMul(g, o with { LoraTargets = [] }, input, weight, k, n, $"{p}/base_output_0", nodeName);
        var then = new OnnxGraph { Name = $"{p}/then" };
        var rows = input;
        if (!mixed)
        {
            rows = $"{p}/x_rows";
            then.AddNode("Reshape", [input, Constant(g, $"/lora/const_rows_{k}", [-1, k])], [rows], $"{p}/Reshape_x");
        }

        then.AddNode("MatMul", [rows, LoraGraphNames.A(layer, target)], [$"{p}/xA"], $"{p}/MatMul_A");
        then.AddNode("Mul", [$"{p}/xA", LoraMask], [$"{p}/xA_masked"], $"{p}/Mul_mask");
        then.AddNode("Transpose", [$"{p}/xA_masked"], [$"{p}/xA_by_token"], $"{p}/Transpose", "", OnnxAttribute.IntList("perm", 1, 0, 2));
        then.AddNode("Reshape", [$"{p}/xA_by_token", LoraLeadShape], [$"{p}/xA_flat"], $"{p}/Reshape_xA");
        then.AddNode("Reshape", [LoraGraphNames.B(layer, target), outShape], [$"{p}/B_flat"], $"{p}/Reshape_B");
        then.AddNode("MatMul", [$"{p}/xA_flat", $"{p}/B_flat"], [$"{p}/delta"], $"{p}/MatMul_B");
        then.AddNode("Add", [$"{p}/base_output_0", $"{p}/delta"], [$"{p}/with_lora"], $"{p}/Add");
        then.Outputs.Add(BranchOutput($"{p}/with_lora", mixed ? 2 : 3));
        var otherwise = new OnnxGraph { Name = $"{p}/else" };
        otherwise.AddNode("Identity", [$"{p}/base_output_0"], [$"{p}/base_only"], $"{p}/Identity");
        otherwise.Outputs.Add(BranchOutput($"{p}/base_only", mixed ? 2 : 3));
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

    /// <summary>Adds the int64 initializer <paramref name="name"/> once; returns its name.</summary>
    private static string Constant(OnnxGraph g, string name, long[] values)
    {
        if (!g.Initializers.Any(t => t.Name == name))
        {
            g.Initializers.Add(OnnxTensor.FromInt64s(name, [values.Length], values));
        }

        return name;
    }

    private static OnnxValueInfo BranchOutput(string name, int rank) =>
        new(name, TensorElementType.Float, [.. Enumerable.Range(0, rank).Select(d => (OnnxDim)$"{name}_dim{d}")]);

    private static AdapterBaseShape ShapeOf(ModelBuilderOptions o) =>
        new(o.LayerCount, o.HiddenSize, o.HeadCount, o.KvHeadCount, o.HeadSize, o.IntermediateSize);
}
