using System.Globalization;

namespace Flywheel.LoadGen.Workload;

/// <summary>
/// Several model names to spread requests over (e.g. LoRA adapters served on one base), each with a relative
/// weight: <c>a,b,c</c> is uniform, <c>a:6,b:3,c:1</c> skewed. Request <c>i</c>'s model depends only on the
/// seed and <c>i</c>, drawn from its own stream so the prompts and lengths stay those of a single-model run
/// with the same seed.
/// </summary>
public sealed class ModelMix
{
    private readonly double[] _cumulative; // running sums of the weights, last = total

    private ModelMix(IReadOnlyList<string> names, IReadOnlyList<double> weights)
    {
        Names = names;
        Weights = weights;
        _cumulative = new double[weights.Count];
        var sum = 0.0;
        for (var i = 0; i < weights.Count; i++)
        {
            sum += weights[i];
            _cumulative[i] = sum;
        }
    }

    public IReadOnlyList<string> Names { get; }

    /// <summary>Relative weights, as given (1 each when none were given).</summary>
    public IReadOnlyList<double> Weights { get; }

    /// <summary>Each model's expected share of requests (weights over their sum).</summary>
    public double Share(int model) => Weights[model] / _cumulative[^1];

    /// <summary>Parses <c>NAME[:WEIGHT],...</c>; the error names the part at fault.</summary>
    public static bool TryParse(string text, out ModelMix? mix, out string? error)
    {
        mix = null;
        var names = new List<string>();
        var weights = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            // A weight is whatever follows the last colon, when that parses as a number: model names may hold
            // colons themselves (e.g. "org/model:v2" has no numeric tail and stays whole).
            var colon = part.LastIndexOf(':');
            var name = part;
            var weight = 1.0;
            if (colon >= 0 && double.TryParse(part.AsSpan(colon + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var w))
            {
                if (!double.IsFinite(w) || w <= 0)
                {
                    error = $"--models: the weight of '{part[..colon]}' must be a positive number, not '{part[(colon + 1)..]}'";
                    return false;
                }
                name = part[..colon].Trim();
                weight = w;
            }
            if (name.Length == 0)
            {
                error = $"--models: empty model name in '{text}'";
                return false;
            }
            if (names.Contains(name, StringComparer.Ordinal))
            {
                error = $"--models: '{name}' is listed twice";
                return false;
            }
            names.Add(name);
            weights.Add(weight);
        }
        mix = new ModelMix(names, weights);
        error = null;
        return true;
    }

    /// <summary>The model of request <paramref name="index"/> under <paramref name="seed"/>.</summary>
    public string Pick(int seed, int index)
    {
        // A stream of its own: mixing a constant into the seed keeps it apart from the workload's.
        var u = new Random(WorkloadGenerator.MixSeed(seed ^ 0x4D4F444C, index)).NextDouble() * _cumulative[^1];
        for (var i = 0; i < _cumulative.Length - 1; i++)
        {
            if (u < _cumulative[i])
            {
                return Names[i];
            }
        }
        return Names[^1];
    }

    public override string ToString() =>
        string.Join(",", Names.Select((n, i) => Weights[i] == 1 ? n : FormattableString.Invariant($"{n}:{Weights[i]}")));
}
