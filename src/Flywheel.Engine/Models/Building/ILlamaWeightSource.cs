namespace Flywheel.Models.Building;

/// <summary>
/// Where the builder's weights come from: seeded dummy draws, or a checkpoint being imported. Tensors are asked
/// for by graph name (<see cref="LlamaWeightNames"/>), in the graph's layout (MatMul weights [in, out]).
/// </summary>
public interface ILlamaWeightSource
{
    /// <summary>
    /// The <paramref name="count"/> values of tensor <paramref name="name"/>. <paramref name="std"/> and
    /// <paramref name="mean"/> say how a dummy source draws them; a checkpoint ignores them.
    /// </summary>
    float[] Tensor(string name, int count, double std, double mean = 0);
}
