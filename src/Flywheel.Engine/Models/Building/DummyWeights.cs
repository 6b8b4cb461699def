namespace Flywheel.Models.Building;

/// <summary>Seeded normal draws for dummy weights (deterministic for a seed and tensor name).</summary>
internal sealed class DummyWeights(int seed) : ILlamaWeightSource
{
    public float[] Tensor(string name, int count, double std, double mean = 0) => Normal(name, count, std, mean);

    public float[] Normal(string tensorName, int count, double std, double mean = 0)
    {
        // Each tensor gets its own stream, so adding a tensor does not change the others.
        // (HashCode.Combine is randomized per process, so the mix is spelled out.)
        var random = new Random(unchecked((seed * 1_000_003) ^ StableHash(tensorName)));
        var values = new float[count];
        for (var i = 0; i < count; i += 2)
        {
            // Box-Muller: two independent standard normals per pair of uniforms.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var radius = Math.Sqrt(-2.0 * Math.Log(u1));
            values[i] = (float)(mean + std * radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < count)
            {
                values[i + 1] = (float)(mean + std * radius * Math.Sin(2 * Math.PI * u2));
            }
        }

        return values;
    }

    private static int StableHash(string s)
    {
        var h = 17;
        foreach (var c in s)
        {
            h = unchecked((h * 31) + c);
        }

        return h;
    }
}
