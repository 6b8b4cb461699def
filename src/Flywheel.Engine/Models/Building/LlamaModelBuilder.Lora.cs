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
/// hundred KB, against T tokens of work). Decode rows, one token each and usually of many adapters, are
/// grouped by slot instead (LlamaModelBuilder.LoraGroups.cs): each group multiplies by its slot's A and B read
/// in place, so no adapter is copied per Run and no row multiplies by an adapter that is not its own. The
/// engine binds views covering only slots 0 .. (highest loaded slot), so the cost follows the loaded set.
/// Everything sits in the then-branch of an If on one flag per Run (any row on an adapter), so a Run of base
/// rows only costs one If per projection.
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

        // The slots grouped (mixed: the decode rows'; otherwise every row's, used when rows are one token
        // each), and the slots of the whole Run (for the flag).
        string runSlots;
        if (mixed)
        {
            g.AddNode("Concat", [LoraGraphNames.SlotIds, LoraGraphNames.ChunkSlotIds], ["/lora/run_slots"], "/lora/Concat_slots", "", OnnxAttribute.Int("axis", 0));
            runSlots = "/lora/run_slots";
        }
        else
        {
            runSlots = LoraGraphNames.SlotIds;
            g.AddNode("Shape", ["input_ids"], ["/lora/rows_by_tokens"], "/lora/Shape_ids");
            // Rows of more than one token take their own adapter's A and B (see TryLoraMatMul).
            g.AddNode("Gather", ["/lora/rows_by_tokens", "const_one"], ["/lora/tokens_per_row"], "/lora/Gather_tokens", "", OnnxAttribute.Int("axis", 0));
            g.AddNode("Greater", ["/lora/tokens_per_row", "const_one"], [LoraPerRow], "/lora/Greater_per_row");
        }

        AddLoraGroups(g, o, LoraGraphNames.SlotIds);

        // Whether any row of the Run uses an adapter: a Run of base rows only skips every LoRA branch.
        g.AddNode("ReduceMax", [runSlots], ["/lora/max_slot"], "/lora/ReduceMax_slots", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("Greater", ["/lora/max_slot", "/lora/const_zero"], [LoraAny], "/lora/Greater_any");
        if (!mixed)
        {
            // A decode Run with adapter rows, the common case, passes through one If per projection.
            g.AddNode("Not", [LoraPerRow], ["/lora/one_token_rows"], "/lora/Not_per_row");
            g.AddNode("And", [LoraAny, "/lora/one_token_rows"], [LoraGroupedRun], "/lora/And_grouped");
        }
    }

    private const string LoraGroupedRun = "/lora/grouped_run";
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

        // y = base, plus the delta only when the Run has adapter rows: a base-only Run takes the else-branch,
        // which passes the base output through.
        MatMul(g, o with { LoraTargets = [] }, input, weight, k, n, $"{p}/base_output_0", nodeName);
        var rank = mixed ? 2 : 3;
        if (mixed)
        {
            // Decode rows (one token each, any adapters) multiply in groups by slot; the chunk's tokens all
            // belong to one sequence, so they multiply by its adapter only.
            var then = new OnnxGraph { Name = $"{p}/then" };
            then.AddNode("Split", [input, "split_sizes"], [$"{p}/x_decode", $"{p}/x_chunk"], $"{p}/Split", "", OnnxAttribute.Int("axis", 0));
            var decode = GroupedDelta(g, then, $"{p}/decode", $"{p}/x_decode", a, b, [-1, n]);
            var chunk = GatherDelta(then, $"{p}/chunk", $"{p}/x_chunk", LoraGraphNames.ChunkSlotIds, a, b);
            then.AddNode("Reshape", [chunk, Constant(g, $"/lora/const_out_flat_{n}", [-1, n])], [$"{p}/chunk/delta_2d"], $"{p}/chunk/Reshape");
            then.AddNode("Concat", [decode, $"{p}/chunk/delta_2d"], [$"{p}/delta"], $"{p}/Concat", "", OnnxAttribute.Int("axis", 0));
            g.AddNode("If", [LoraAny], [output], $"{p}/If", "", OnnxAttribute.Graph("then_branch", WithDelta(then, $"{p}/base_output_0", p, $"{p}/delta", rank)), OnnxAttribute.Graph("else_branch", BaseOnly(p, rank)));
            return true;
        }

        // Rows of one token (decode) multiply in groups by slot, reading each adapter in place; rows of several
        // tokens (prompt chunks) by their row's adapter, gathered. Decode Runs with adapter rows take the outer
        // If's then-branch; chunk Runs and base-only Runs the inner If.
        var grouped = new OnnxGraph { Name = $"{p}/grouped" };
        GroupedDelta(g, grouped, $"{p}/grouped", input, a, b, [-1, 1, n]);
        var perRow = new OnnxGraph { Name = $"{p}/per_row" };
        GatherDelta(perRow, $"{p}/per_row", input, LoraGraphNames.SlotIds, a, b);
        var other = new OnnxGraph { Name = $"{p}/other" };
        other.AddNode("If", [LoraAny], [$"{p}/other_output"], $"{p}/If_per_row", "", OnnxAttribute.Graph("then_branch", WithDelta(perRow, $"{p}/base_output_0", $"{p}/per_row", $"{p}/per_row/delta", rank)), OnnxAttribute.Graph("else_branch", BaseOnly(p, rank)));
        other.Outputs.Add(BranchOutput($"{p}/other_output", rank));
        g.AddNode("If", [LoraGroupedRun], [output], $"{p}/If", "", OnnxAttribute.Graph("then_branch", WithDelta(grouped, $"{p}/base_output_0", $"{p}/grouped", $"{p}/grouped/delta", rank)), OnnxAttribute.Graph("else_branch", other));
        return true;
    }

    /// <summary>Ends <paramref name="branch"/> with <paramref name="baseOutput"/> plus <paramref name="delta"/> as its output.</summary>
    private static OnnxGraph WithDelta(OnnxGraph branch, string baseOutput, string p, string delta, int rank)
    {
        branch.AddNode("Add", [baseOutput, delta], [$"{p}/with_lora"], $"{p}/Add");
        branch.Outputs.Add(BranchOutput($"{p}/with_lora", rank));
        return branch;
    }

    /// <summary>A branch that passes the base output through.</summary>
    private static OnnxGraph BaseOnly(string p, int rank)
    {
        var otherwise = new OnnxGraph { Name = $"{p}/else" };
        otherwise.AddNode("Identity", [$"{p}/base_output_0"], [$"{p}/base_only"], $"{p}/Identity");
        otherwise.Outputs.Add(BranchOutput($"{p}/base_only", rank));
        return otherwise;
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
