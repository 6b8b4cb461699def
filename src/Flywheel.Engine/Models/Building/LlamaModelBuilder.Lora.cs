using Flywheel.Adapters;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Models.Building;

/// <summary>
/// The LoRA-capable graph (<see cref="ModelBuilderOptions.LoraTargets"/>): every adapted projection becomes
/// y = x W + s * (x A[i]) B[i] for each token's adapter slot i, where A [slots, in, r] and B [slots, r, out] are
/// the engine's stacked buffers (scales folded into B when an adapter is loaded; slot 0, the base, stays zero).
/// </summary>
/// <remarks>
/// Two forms of the delta, each where it is cheaper. Tokens of a prompt chunk all belong to one sequence, so
/// a row of several tokens (the chunk graph) or the mixed graph's chunk takes its own adapter: A and B are
/// gathered by the row's slot and multiplied in two batched MatMuls (copying one adapter per row, a few
/// hundred KB, against T tokens of work). Decode rows, one token each and usually of many adapters,
/// multiply by every bound slot instead: x A over all slots is one broadcast MatMul ([N, in] x [S, in, r] ->
/// [S, N, r]); a mask [S, N, 1] keeps each token's own slot; after a transpose of that small product to
/// [N, S * r], one MatMul by B viewed as [S * r, out] (contiguous, no copy) adds the delta. That reads each
/// bound adapter once per Run, where a per-row gather would copy it once per row. The engine binds views
/// covering only slots 0 .. (highest loaded slot), so the cost follows the loaded set, and nothing is copied
/// per Run. Everything sits in the then-branch of an If on one flag per Run (any row on an adapter), so a Run
/// of base rows only costs one If per projection.
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

        // The slot of each token that multiplies by every bound slot, [N] (mixed: the decode rows'; otherwise
        // each row's slot repeated over the row's tokens), and the slots of the whole Run (for the flag).
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_last_axis", [1], [-1]));
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_flat", [1], [-1]));
        string ids, runSlots;
        if (mixed)
        {
            g.AddNode("Concat", [LoraGraphNames.SlotIds, LoraGraphNames.ChunkSlotIds], ["/lora/run_slots"], "/lora/Concat_slots", "", OnnxAttribute.Int("axis", 0));
            g.Initializers.Add(OnnxTensor.FromInt64s(LoraLeadShape, [2], [0, -1]));
            (ids, runSlots) = (LoraGraphNames.SlotIds, "/lora/run_slots");
        }
        else
        {
            g.AddNode("Shape", ["input_ids"], ["/lora/rows_by_tokens"], "/lora/Shape_ids");
            g.AddNode("Unsqueeze", [LoraGraphNames.SlotIds, "/lora/const_last_axis"], ["/lora/row_slots"], "/lora/Unsqueeze_rows");
            g.AddNode("Expand", ["/lora/row_slots", "/lora/rows_by_tokens"], ["/lora/token_slots_2d"], "/lora/Expand_tokens");
            g.AddNode("Reshape", ["/lora/token_slots_2d", "/lora/const_flat"], ["/lora/token_slots"], "/lora/Reshape_tokens");
            g.AddNode("Concat", ["/lora/rows_by_tokens", "/lora/const_flat"], [LoraLeadShape], "/lora/Concat_lead", "", OnnxAttribute.Int("axis", 0));
            (ids, runSlots) = ("/lora/token_slots", LoraGraphNames.SlotIds);

            // Rows of more than one token take their own adapter's A and B (see TryLoraMatMul).
            g.AddNode("Gather", ["/lora/rows_by_tokens", "const_one"], ["/lora/tokens_per_row"], "/lora/Gather_tokens", "", OnnxAttribute.Int("axis", 0));
            g.AddNode("Greater", ["/lora/tokens_per_row", "const_one"], [LoraPerRow], "/lora/Greater_per_row");
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

        // Whether any row of the Run uses an adapter: a Run of base rows only skips every LoRA branch.
        g.AddNode("ReduceMax", [runSlots], ["/lora/max_slot"], "/lora/ReduceMax_slots", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("Greater", ["/lora/max_slot", "/lora/const_zero"], [LoraAny], "/lora/Greater_any");
    }

    private const string LoraLeadShape = "/lora/lead_shape";
    private const string LoraMask = "/lora/mask";
    private const string LoraAny = "/lora/any_adapter";
    private const string LoraPerRow = "/lora/per_row";

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
        var mixed = g.Inputs.Any(i => i.Name == LoraGraphNames.ChunkSlotIds);
        var (a, b) = (LoraGraphNames.A(layer, target), LoraGraphNames.B(layer, target));

        // y = base, plus the delta only when the Run has adapter rows: a base-only Run runs the else-branch,
        // which passes the base output through.
        MatMul(g, o with { LoraTargets = [] }, input, weight, k, n, $"{p}/base_output_0", nodeName);
        var then = new OnnxGraph { Name = $"{p}/then" };
        string delta;
        if (mixed)
        {
            // Decode rows (one token each, any adapters) multiply by every bound slot; the chunk's tokens all
            // belong to one sequence, so they multiply by its adapter only.
            then.AddNode("Split", [input, "split_sizes"], [$"{p}/x_decode", $"{p}/x_chunk"], $"{p}/Split", "", OnnxAttribute.Int("axis", 0));
            var decode = BroadcastDelta(g, then, $"{p}/decode", $"{p}/x_decode", a, b, n);
            var chunk = GatherDelta(then, $"{p}/chunk", $"{p}/x_chunk", LoraGraphNames.ChunkSlotIds, a, b);
            then.AddNode("Reshape", [chunk, Constant(g, $"/lora/const_out_flat_{n}", [-1, n])], [$"{p}/chunk/delta_2d"], $"{p}/chunk/Reshape");
            delta = $"{p}/delta";
            then.AddNode("Concat", [decode, $"{p}/chunk/delta_2d"], [delta], $"{p}/Concat", "", OnnxAttribute.Int("axis", 0));
        }
        else
        {
            // Rows of several tokens (prompt chunks) multiply by their row's adapter only; rows of one token
            // (decode) by every bound slot, which reads each adapter once instead of once per row.
            delta = $"{p}/delta";
            var perRow = new OnnxGraph { Name = $"{p}/per_row" };
            perRow.Outputs.Add(BranchOutput(GatherDelta(perRow, $"{p}/per_row", input, LoraGraphNames.SlotIds, a, b), 3));
            var broadcast = new OnnxGraph { Name = $"{p}/broadcast" };
            var rows = $"{p}/x_rows";
            broadcast.AddNode("Reshape", [input, Constant(g, $"/lora/const_rows_{k}", [-1, k])], [rows], $"{p}/Reshape_x");
            broadcast.Outputs.Add(BranchOutput(BroadcastDelta(g, broadcast, $"{p}/broadcast", rows, a, b, n), 3));
            then.AddNode("If", [LoraPerRow], [delta], $"{p}/If_per_row", "", OnnxAttribute.Graph("then_branch", perRow), OnnxAttribute.Graph("else_branch", broadcast));
        }

        then.AddNode("Add", [$"{p}/base_output_0", delta], [$"{p}/with_lora"], $"{p}/Add");
        then.Outputs.Add(BranchOutput($"{p}/with_lora", mixed ? 2 : 3));
        var otherwise = new OnnxGraph { Name = $"{p}/else" };
        otherwise.AddNode("Identity", [$"{p}/base_output_0"], [$"{p}/base_only"], $"{p}/Identity");
        otherwise.Outputs.Add(BranchOutput($"{p}/base_only", mixed ? 2 : 3));
        g.AddNode("If", [LoraAny], [output], $"{p}/If", "", OnnxAttribute.Graph("then_branch", then), OnnxAttribute.Graph("else_branch", otherwise));
        return true;
    }

    /// <summary>
    /// Each token's delta over every bound slot, into <paramref name="branch"/>: x [N, in] times A [S, in, r] as
    /// one broadcast MatMul -> [S, N, r], times the mask [S, N, 1], transposed to [N, S, r] and reshaped to the
    /// lead shape ([.., S * r]), times B read in place as [S * r, out]. Returns the delta's name.
    /// </summary>
    private static string BroadcastDelta(OnnxGraph g, OnnxGraph branch, string p, string rows, string a, string b, int n)
    {
        branch.AddNode("MatMul", [rows, a], [$"{p}/xA"], $"{p}/MatMul_A");
        branch.AddNode("Mul", [$"{p}/xA", LoraMask], [$"{p}/xA_masked"], $"{p}/Mul_mask");
        branch.AddNode("Transpose", [$"{p}/xA_masked"], [$"{p}/xA_by_token"], $"{p}/Transpose", "", OnnxAttribute.IntList("perm", 1, 0, 2));
        branch.AddNode("Reshape", [$"{p}/xA_by_token", LoraLeadShape], [$"{p}/xA_flat"], $"{p}/Reshape_xA");
        branch.AddNode("Reshape", [b, Constant(g, $"/lora/const_out_flat_{n}", [-1, n])], [$"{p}/B_flat"], $"{p}/Reshape_B");
        branch.AddNode("MatMul", [$"{p}/xA_flat", $"{p}/B_flat"], [$"{p}/delta"], $"{p}/MatMul_B");
        return $"{p}/delta";
    }

    /// <summary>
    /// The delta of rows that each use one adapter, into <paramref name="branch"/>: A and B gathered by the rows'
    /// slots ([R, in, r], [R, r, out]) and two batched MatMuls, x [R, T, in] -> [R, T, r] -> [R, T, out] (a
    /// [T, in] input broadcasts against a single row). Returns the delta's name.
    /// </summary>
    private static string GatherDelta(OnnxGraph branch, string p, string x, string slotIds, string a, string b)
    {
        branch.AddNode("Gather", [a, slotIds], [$"{p}/A_rows"], $"{p}/Gather_A", "", OnnxAttribute.Int("axis", 0));
        branch.AddNode("Gather", [b, slotIds], [$"{p}/B_rows"], $"{p}/Gather_B", "", OnnxAttribute.Int("axis", 0));
        branch.AddNode("MatMul", [x, $"{p}/A_rows"], [$"{p}/xA"], $"{p}/MatMul_A");
        branch.AddNode("MatMul", [$"{p}/xA", $"{p}/B_rows"], [$"{p}/delta"], $"{p}/MatMul_B");
        return $"{p}/delta";
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
