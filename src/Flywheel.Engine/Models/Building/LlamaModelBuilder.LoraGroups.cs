using Flywheel.Adapters;
using Flywheel.Onnx;
using Flywheel.Onnx.Proto;

namespace Flywheel.Models.Building;

/// <summary>
/// The decode rows' LoRA delta, grouped by adapter: rows are gathered into one group per bound slot, padded to
/// the largest group ([S, M, in]), multiplied by each slot's own A and B as two batched MatMuls, and gathered
/// back to their rows. Every row is multiplied by its own adapter only, the stacked buffers are read in place
/// (no per-Run copy of any adapter), and the padding costs S * M rows where a broadcast over every slot would
/// cost S * N: with N rows spread over S slots, M is about N / S.
/// </summary>
/// <remarks>
/// The grouping is computed once per Run from the slot ids, at the top of the graph (a few [S, N] integer
/// ops), and shared by every projection:
/// <list type="bullet">
/// <item><c>/lora/group_rows</c> [S * M]: for each group position, the row it holds (padding holds row 0,
/// whose result nobody reads);</item>
/// <item><c>/lora/row_positions</c> [N]: for each row, its group position. Base rows (slot 0) get position 0:
/// slot 0's group holds no rows and its A and B are zero, so what it yields there is an exact zero.</item>
/// </list>
/// M is at least 1, so slot 0's group always has that position.
/// </remarks>
public static partial class LlamaModelBuilder
{
    private const string LoraGroupRows = "/lora/group_rows";
    private const string LoraRowPositions = "/lora/row_positions";
    private const string LoraGroupShape = "/lora/group_shape";

    /// <summary>Adds the grouping of the rows whose slots are <paramref name="ids"/> [N] by bound slot.</summary>
    private static void AddLoraGroups(OnnxGraph g, ModelBuilderOptions o, string ids)
    {
        const string q = "/lora/groups";
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_zero", [], [0]));
        g.Initializers.Add(OnnxTensor.FromInt64s("/lora/const_one_1d", [1], [1]));
        g.Initializers.Add(OnnxTensor.FromInt64s($"{q}/const_row_axis", [1], [0]));

        // Bound slots as a column [S, 1]; which rows sit on which adapter slot (slot 0 excluded) [S, N].
        g.AddNode("Shape", [LoraGraphNames.A(0, o.LoraTargets[0])], ["/lora/slot_count_1d"], "/lora/Shape_slots", "", OnnxAttribute.Int("start", 0), OnnxAttribute.Int("end", 1));
        g.AddNode("Squeeze", ["/lora/slot_count_1d"], ["/lora/slot_count"], "/lora/Squeeze_slots");
        g.AddNode("Range", ["/lora/const_zero", "/lora/slot_count", "const_one"], ["/lora/bound_slots"], "/lora/Range_slots");
        g.AddNode("Unsqueeze", ["/lora/bound_slots", "/lora/const_one_1d"], ["/lora/slots_column"], "/lora/Unsqueeze_slots");
        g.AddNode("Equal", ["/lora/slots_column", ids], [$"{q}/on_slot"], $"{q}/Equal");
        g.AddNode("Greater", ["/lora/slots_column", "/lora/const_zero"], [$"{q}/adapter_slot"], $"{q}/Greater_adapter");
        g.AddNode("And", [$"{q}/on_slot", $"{q}/adapter_slot"], [$"{q}/on_adapter_bool"], $"{q}/And");
        g.AddNode("Cast", [$"{q}/on_adapter_bool"], [$"{q}/on_adapter"], $"{q}/Cast", "", OnnxAttribute.Int("to", (long)TensorElementType.Int64));

        // M = the largest group (at least 1); each row's rank within its group; its position slot * M + rank.
        g.AddNode("ReduceSum", [$"{q}/on_adapter", "/lora/const_one_1d"], [$"{q}/group_sizes"], $"{q}/ReduceSum_sizes", "", OnnxAttribute.Int("keepdims", 0));
        g.AddNode("ReduceMax", [$"{q}/group_sizes"], [$"{q}/largest"], $"{q}/ReduceMax_sizes", "", OnnxAttribute.Int("keepdims", 1));
        g.AddNode("Max", [$"{q}/largest", "/lora/const_one_1d"], [$"{q}/group_size"], $"{q}/Max_one");
        g.AddNode("CumSum", [$"{q}/on_adapter", "const_one"], [$"{q}/rank"], $"{q}/CumSum_rank", "", OnnxAttribute.Int("exclusive", 1));
        g.AddNode("Mul", ["/lora/slots_column", $"{q}/group_size"], [$"{q}/group_start"], $"{q}/Mul_start");
        g.AddNode("Add", [$"{q}/group_start", $"{q}/rank"], [$"{q}/position_any"], $"{q}/Add_rank");
        g.AddNode("Mul", [$"{q}/position_any", $"{q}/on_adapter"], [$"{q}/position_own"], $"{q}/Mul_own");
        g.AddNode("ReduceSum", [$"{q}/position_own", $"{q}/const_row_axis"], [LoraRowPositions], $"{q}/ReduceSum_positions", "", OnnxAttribute.Int("keepdims", 0));

        // The inverse: each group position's row (row 0 where nothing is scattered), and the groups' shape.
        g.AddNode("Mul", ["/lora/slot_count_1d", $"{q}/group_size"], [$"{q}/positions_1d"], $"{q}/Mul_positions");
        g.AddNode("ConstantOfShape", [$"{q}/positions_1d"], [$"{q}/zeros"], $"{q}/ConstantOfShape", "", OnnxAttribute.Tensor("value", OnnxTensor.FromInt64s($"{q}/zero_value", [1], [0])));
        g.AddNode("Shape", [ids], [$"{q}/row_count_1d"], $"{q}/Shape_rows");
        g.AddNode("Squeeze", [$"{q}/row_count_1d"], [$"{q}/row_count"], $"{q}/Squeeze_rows");
        g.AddNode("Range", ["/lora/const_zero", $"{q}/row_count", "const_one"], [$"{q}/row_numbers"], $"{q}/Range_rows");
        g.AddNode("ScatterElements", [$"{q}/zeros", LoraRowPositions, $"{q}/row_numbers"], [LoraGroupRows], $"{q}/ScatterElements", "", OnnxAttribute.Int("axis", 0));
        g.Initializers.Add(OnnxTensor.FromInt64s($"{q}/const_minus_one", [1], [-1]));
        g.AddNode("Concat", ["/lora/slot_count_1d", $"{q}/group_size", $"{q}/const_minus_one"], [LoraGroupShape], $"{q}/Concat_shape", "", OnnxAttribute.Int("axis", 0));
    }

    /// <summary>
    /// One-token rows <paramref name="rows"/> ([N, in], or [N, 1, in]) gathered into their groups, [S, M, in],
    /// into <paramref name="branch"/> (once per input, shared by the projections that read it). Returns the name.
    /// </summary>
    private static string GroupedRows(OnnxGraph branch, string p, string rows)
    {
        branch.AddNode("Gather", [rows, LoraGroupRows], [$"{p}/x_groups_flat"], $"{p}/Gather_rows", "", OnnxAttribute.Int("axis", 0));
        branch.AddNode("Reshape", [$"{p}/x_groups_flat", LoraGroupShape], [$"{p}/x_groups"], $"{p}/Reshape_groups");
        return $"{p}/x_groups";
    }

    /// <summary>
    /// The delta of the grouped rows <paramref name="groups"/> (see the type's summary), into
    /// <paramref name="branch"/>: each slot's A and B, then back to the rows, shaped <paramref name="rowShape"/>
    /// per row ([-1, out] or [-1, 1, out]). Returns the delta's name.
    /// </summary>
    private static string GroupedProduct(OnnxGraph g, OnnxGraph branch, string p, string groups, string a, string b, long[] rowShape)
    {
        var shapeName = $"/lora/const_rows_{string.Join('_', rowShape.Select(d => d < 0 ? "any" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}";
        branch.AddNode("MatMul", [groups, a], [$"{p}/xA"], $"{p}/MatMul_A");
        branch.AddNode("MatMul", [$"{p}/xA", b], [$"{p}/xAB"], $"{p}/MatMul_B");
        branch.AddNode("Reshape", [$"{p}/xAB", Constant(g, shapeName, rowShape)], [$"{p}/xAB_rows"], $"{p}/Reshape_rows");
        branch.AddNode("Gather", [$"{p}/xAB_rows", LoraRowPositions], [$"{p}/delta"], $"{p}/Gather_positions", "", OnnxAttribute.Int("axis", 0));
        return $"{p}/delta";
    }
}
