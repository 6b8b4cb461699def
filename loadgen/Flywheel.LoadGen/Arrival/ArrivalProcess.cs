namespace Flywheel.LoadGen.Arrival;

/// <summary>How open-loop requests are spaced in time.</summary>
public enum ArrivalKind
{
    /// <summary>Exponential gaps: a Poisson process (gamma with shape 1).</summary>
    Poisson,

    /// <summary>Evenly spaced, exactly 1/rate apart.</summary>
    Constant,

    /// <summary>Gamma gaps with shape = burstiness and mean 1/rate, as in vLLM's benchmark: below 1 burstier than Poisson, above 1 more even.</summary>
    Gamma,
}

/// <summary>
/// A seeded stream of inter-arrival gaps for an open-loop load. Not thread-safe: one issuing loop owns it.
/// An infinite rate yields gaps of zero (every request at once).
/// </summary>
public sealed class ArrivalProcess
{
    private readonly Random _rng;

    private ArrivalProcess(ArrivalKind kind, double ratePerSecond, double burstiness, int seed)
    {
        Kind = kind;
        RatePerSecond = ratePerSecond;
        Burstiness = burstiness;
        _rng = new Random(seed);
    }

    public ArrivalKind Kind { get; }

    /// <summary>Mean requests per second; may be <see cref="double.PositiveInfinity"/>.</summary>
    public double RatePerSecond { get; }

    /// <summary>The gamma shape (1 for Poisson; unused for constant).</summary>
    public double Burstiness { get; }

    /// <summary>Creates a process; throws <see cref="ArgumentOutOfRangeException"/> for a non-positive rate or burstiness.</summary>
    public static ArrivalProcess Create(ArrivalKind kind, double ratePerSecond, double burstiness, int seed)
    {
        if (!(ratePerSecond > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "rate must be > 0");
        }
        if (!(burstiness > 0) || double.IsInfinity(burstiness))
        {
            throw new ArgumentOutOfRangeException(nameof(burstiness), burstiness, "burstiness must be a finite number > 0");
        }
        return new ArrivalProcess(kind, ratePerSecond, kind == ArrivalKind.Poisson ? 1.0 : burstiness, seed);
    }

    /// <summary>Seconds from the previous arrival to the next one.</summary>
    public double NextIntervalSeconds()
    {
        if (double.IsPositiveInfinity(RatePerSecond))
        {
            return 0;
        }
        return Kind switch
        {
            ArrivalKind.Constant => 1.0 / RatePerSecond,
            ArrivalKind.Poisson => RandomSampling.Exponential(_rng, RatePerSecond),
            // Mean = shape * scale = 1/rate, so scale = 1 / (rate * shape).
            _ => RandomSampling.Gamma(_rng, Burstiness, 1.0 / (RatePerSecond * Burstiness)),
        };
    }

    /// <summary>A short description for reports, e.g. "poisson 4 req/s".</summary>
    public override string ToString()
    {
        var rate = double.IsPositiveInfinity(RatePerSecond) ? "inf" : RatePerSecond.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        return Kind == ArrivalKind.Gamma
            ? $"gamma {rate} req/s (burstiness {Burstiness.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)})"
            : $"{Kind.ToString().ToLowerInvariant()} {rate} req/s";
    }
}
