namespace Flywheel.Models.Building;

/// <summary>
/// A checkpoint's rope_scaling, applied to the rotary inverse frequencies when the cos/sin caches are computed
/// (GroupQueryAttention takes the caches as inputs, so the scaling lives entirely in them, as in ORT GenAI's
/// builder). Formulas as transformers' rope initialization defines them.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>"linear" or "llama3".</summary>
    public required string Type { get; init; }

    /// <summary>How far the context was stretched: linear divides every frequency by it; llama3 the low ones.</summary>
    public required double Factor { get; init; }

    /// <summary>llama3: wavelengths above original / low_freq_factor are divided by <see cref="Factor"/>.</summary>
    public double LowFreqFactor { get; init; } = 1;

    /// <summary>llama3: wavelengths below original / high_freq_factor are kept.</summary>
    public double HighFreqFactor { get; init; } = 4;

    /// <summary>llama3: the context the model was pretrained with (original_max_position_embeddings).</summary>
    public double OriginalContextLength { get; init; } = 8192;

    /// <summary>The types implemented.</summary>
    public static readonly IReadOnlyList<string> Types = ["linear", "llama3"];

    /// <summary>
    /// The scaled inverse frequency. llama3 works by wavelength 2 pi / f: short ones (high frequencies, local
    /// order) keep f, long ones get f / factor, and those between blend the two linearly in original / wavelength.
    /// </summary>
    public double Apply(double inverseFrequency)
    {
        if (Type == "linear")
        {
            return inverseFrequency / Factor;
        }

        var wavelength = 2 * Math.PI / inverseFrequency;
        if (wavelength < OriginalContextLength / HighFreqFactor)
        {
            return inverseFrequency;
        }

        if (wavelength > OriginalContextLength / LowFreqFactor)
        {
            return inverseFrequency / Factor;
        }

        var smooth = ((OriginalContextLength / wavelength) - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
        return ((1 - smooth) * inverseFrequency / Factor) + (smooth * inverseFrequency);
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first unusable setting.</summary>
    public void Validate()
    {
        if (!Types.Contains(Type))
        {
            throw new ArgumentException($"rope scaling type '{Type}' is not implemented (implemented: {string.Join(", ", Types)})");
        }

        if (!(Factor > 0) || (Type == "llama3" && !(LowFreqFactor > 0 && HighFreqFactor > LowFreqFactor && OriginalContextLength > 0)))
        {
            throw new ArgumentException($"rope scaling {Type}: factor {Factor}, low_freq_factor {LowFreqFactor}, high_freq_factor {HighFreqFactor}, original_max_position_embeddings {OriginalContextLength} are not usable (factors positive, high above low)");
        }
    }
}
