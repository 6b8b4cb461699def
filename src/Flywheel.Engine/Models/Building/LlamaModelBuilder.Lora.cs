using System.Runtime.CompilerServices;
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
/// Projections that read one input (q/k/v, gate/up) share one If and one grouping of their rows
/// (<see cref="FlushLora"/>); a Run of base rows only takes the branch that passes the base outputs through.
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
            // Rows of more than one token take their own adapter's A and B (see FlushLora).
            g.AddNode("Gather", ["/lora/rows_by_tokens", "const_one"], ["/lora/tokens_per_row"], "/lora/Gather_tokens", "", OnnxAttribute.Int("axis", 0));
            g.AddNode("Greater", ["/lora/tokens_per_row", "const_one"], [LoraPerRow], "/lora/Greater_per_row");
        }

        AddLoraGroups(g, o, LoraGraphNames.SlotIds);

        // Whether any row of the Run uses an adapter: a Run of base rows only skips every LoRA branch.
        g.AddNode("ReduceMax", [runSlots], ["/lora/max_slot"], "/lora/ReduceMax_slots", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("Greater", ["/lora/max_slot", "/lora/const_zero"], [LoraAny], "/lora/Greater_any");
        if (!mixed)
        {
            // A decode Run with adapter rows, the common case, passes one If per group of projections.
            g.AddNode("Not", [LoraPerRow], ["/lora/one_token_rows"], "/lora/Not_per_row");
            g.AddNode("And", [LoraAny, "/lora/one_token_rows"], [LoraGroupedRun], "/lora/And_grouped");
        }
    }

    private const string LoraGroupedRun = "/lora/grouped_run";
    private const string LoraAny = "/lora/any_adapter";
    private const string LoraPerRow = "/lora/per_row";

    /// <summary>An adapted projection whose base MatMul is written and whose delta waits for <see cref="FlushLora"/>.</summary>
    private sealed record PendingLora(string Input, string Prefix, string Output, string A, string B, int N);

    /// <summary>Per graph being built: adapted projections of one input, waiting for their shared If.</summary>
    private static readonly ConditionalWeakTable<OnnxGraph, List<PendingLora>> LoraPending = new();

    /// <summary>
    /// If <paramref name="weight"/> is an adapted projection, writes its MatMul to a base output and queues its
    /// LoRA delta into <paramref name="output"/> (written by the next <see cref="FlushLora"/>); returns false
    /// (nothing written) for any other weight.
    /// </summary>
    private static bool TryLoraMatMul(OnnxGraph g, ModelBuilderOptions o, string input, string weight, int k, int n, string output, string nodeName)
    {
        if (o.LoraTargets.Count == 0 || !TryParseProjection(weight, out var layer, out var target) || !o.LoraTargets.Contains(target))
        {
            return false;
        }

        var p = nodeName[..nodeName.LastIndexOf('/')] + "/lora";
        MatMul(g, o with { LoraTargets = [] }, input, weight, k, n, $"{p}/base_output_0", nodeName);
        var pending = LoraPending.GetOrCreateValue(g);
        if (pending.Count > 0 && pending[0].Input != input)
        {
            throw new InvalidOperationException($"adapted projections of '{pending[0].Input}' were not flushed before one of '{input}'");
        }

        pending.Add(new PendingLora(input, p, output, LoraGraphNames.A(layer, target), LoraGraphNames.B(layer, target), n));
        return true;
    }

    /// <summary>
    /// Writes the queued projections' outputs: y = base, plus the delta only when the Run has adapter rows (a
    /// base-only Run takes an else-branch that passes the base outputs through). Projections of one input
    /// (q/k/v, gate/up) share one If and one grouping of their rows.
    /// </summary>
    private static void FlushLora(OnnxGraph g)
    {
        if (!LoraPending.TryGetValue(g, out var pending) || pending.Count == 0)
        {
            return;
        }

        PendingLora[] group = [.. pending];
        pending.Clear();
        var (input, p) = (group[0].Input, group[0].Prefix);
        var mixed = g.Inputs.Any(i => i.Name == LoraGraphNames.ChunkSlotIds);
        var rank = mixed ? 2 : 3;
        string[] outputs = [.. group.Select(m => m.Output)];
        if (mixed)
        {
            // Decode rows (one token each, any adapters) multiply in groups by slot; the chunk's tokens all
            // belong to one sequence, so they multiply by its adapter only.
            var then = new OnnxGraph { Name = $"{p}/then" };
            then.AddNode("Split", [input, "split_sizes"], [$"{p}/x_decode", $"{p}/x_chunk"], $"{p}/Split", "", OnnxAttribute.Int("axis", 0));
            var groups = GroupedRows(then, $"{p}/decode", $"{p}/x_decode");
            foreach (var m in group)
            {
                var decode = GroupedProduct(g, then, $"{m.Prefix}/decode", groups, m.A, m.B, [-1, m.N]);
                var chunk = GatherDelta(then, $"{m.Prefix}/chunk", $"{p}/x_chunk", LoraGraphNames.ChunkSlotIds, m.A, m.B);
                then.AddNode("Reshape", [chunk, Constant(g, $"/lora/const_out_flat_{m.N}", [-1, m.N])], [$"{m.Prefix}/chunk/delta_2d"], $"{m.Prefix}/chunk/Reshape");
                then.AddNode("Concat", [decode, $"{m.Prefix}/chunk/delta_2d"], [$"{m.Prefix}/delta"], $"{m.Prefix}/Concat", "", OnnxAttribute.Int("axis", 0));
                WithDelta(then, m, "", $"{m.Prefix}/delta", rank);
            }

            g.AddNode("If", [LoraAny], outputs, $"{p}/If", "", OnnxAttribute.Graph("then_branch", then), OnnxAttribute.Graph("else_branch", BaseOnly(p, group, rank)));
            return;
        }

        // Rows of one token (decode) multiply in groups by slot, reading each adapter in place; rows of several
        // tokens (prompt chunks) by their row's adapter, gathered. Decode Runs with adapter rows take the outer
        // If's then-branch; chunk Runs and base-only Runs the inner If.
        var grouped = new OnnxGraph { Name = $"{p}/grouped" };
        var rows = GroupedRows(grouped, $"{p}/grouped", input);
        var perRow = new OnnxGraph { Name = $"{p}/per_row" };
        var other = new OnnxGraph { Name = $"{p}/other" };
        foreach (var m in group)
        {
            WithDelta(grouped, m, "/grouped", GroupedProduct(g, grouped, $"{m.Prefix}/grouped", rows, m.A, m.B, [-1, 1, m.N]), rank);
            WithDelta(perRow, m, "/per_row", GatherDelta(perRow, $"{m.Prefix}/per_row", input, LoraGraphNames.SlotIds, m.A, m.B), rank);
            other.Outputs.Add(BranchOutput($"{m.Prefix}/other_output", rank));
        }

        other.AddNode("If", [LoraAny], [.. group.Select(m => $"{m.Prefix}/other_output")], $"{p}/If_per_row", "", OnnxAttribute.Graph("then_branch", perRow), OnnxAttribute.Graph("else_branch", BaseOnly(p, group, rank)));
        g.AddNode("If", [LoraGroupedRun], outputs, $"{p}/If", "", OnnxAttribute.Graph("then_branch", grouped), OnnxAttribute.Graph("else_branch", other));
    }

    /// <summary>Throws when a graph is finished with adapted projections whose outputs were never written.</summary>
    private static void CheckLoraFlushed(OnnxGraph g)
    {
        if (LoraPending.TryGetValue(g, out var pending) && pending.Count > 0)
        {
            throw new InvalidOperationException($"the LoRA deltas of '{pending[0].Input}' were never written");
        }
    }

    /// <summary>Adds to <paramref name="branch"/> an output: <paramref name="m"/>'s base output plus <paramref name="delta"/>.</summary>
    private static void WithDelta(OnnxGraph branch, PendingLora m, string form, string delta, int rank)
    {
        var sum = $"{m.Prefix}{form}/with_lora";
        branch.AddNode("Add", [$"{m.Prefix}/base_output_0", delta], [sum], $"{m.Prefix}{form}/Add");
        branch.Outputs.Add(BranchOutput(sum, rank));
    }

    /// <summary>A branch that passes the group's base outputs through.</summary>
    private static OnnxGraph BaseOnly(string p, PendingLora[] group, int rank)
    {
        var otherwise = new OnnxGraph { Name = $"{p}/else" };
        foreach (var m in group)
        {
            otherwise.AddNode("Identity", [$"{m.Prefix}/base_output_0"], [$"{m.Prefix}/base_only"], $"{m.Prefix}/Identity");
            otherwise.Outputs.Add(BranchOutput($"{m.Prefix}/base_only", rank));
        }

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
