namespace Flywheel.LoadGen.Arrival;

/// <summary>Samplers for the continuous distributions the workload needs, driven by a seeded <see cref="Random"/>.</summary>
internal static class RandomSampling
{
    /// <summary>A uniform draw in (0, 1]: safe to take the logarithm of.</summary>
    public static double OpenUnit(Random rng) => 1.0 - rng.NextDouble();

    /// <summary>Exponential with the given rate (mean 1/rate).</summary>
    public static double Exponential(Random rng, double rate) => -Math.Log(OpenUnit(rng)) / rate;

    /// <summary>Standard normal by the Box-Muller transform (one of the pair is discarded; simplicity over speed).</summary>
    public static double StandardNormal(Random rng)
    {
        var radius = Math.Sqrt(-2.0 * Math.Log(OpenUnit(rng)));
        return radius * Math.Cos(2.0 * Math.PI * rng.NextDouble());
    }

    /// <summary>
    /// Gamma(shape, scale), mean shape*scale, by Marsaglia and Tsang's squeeze method (2000).
    /// Shapes below 1 use the boost Gamma(a) = Gamma(a + 1) * U^(1/a).
    /// </summary>
    public static double Gamma(Random rng, double shape, double scale)
    {
        if (shape < 1.0)
        {
            return Gamma(rng, shape + 1.0, scale) * Math.Pow(OpenUnit(rng), 1.0 / shape);
        }

        var d = shape - 1.0 / 3.0;
        var c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            var x = StandardNormal(rng);
            var v = 1.0 + c * x;
            if (v <= 0)
            {
                continue;
            }
            v = v * v * v;
            var u = OpenUnit(rng);
            var xSquared = x * x;
            if (u < 1.0 - 0.0331 * xSquared * xSquared || Math.Log(u) < 0.5 * xSquared + d * (1.0 - v + Math.Log(v)))
            {
                return d * v * scale;
            }
        }
    }
}
