namespace Flywheel.Sampling;

/// <summary>
/// Picks the next token from one row of logits: greedy when temperature is 0, else temperature,
/// top-k and top-p over a softmax, drawn from a per-sequence seeded random stream (same seed, same
/// draws, whatever else runs). Scratch buffers are allocated once per vocabulary size.
/// </summary>
public sealed class TokenSampler
{
    private readonly Random _random;
    private readonly float[] _probabilities;
    private readonly int[] _order;

    public TokenSampler(int vocabSize, long? seed)
    {
        _random = seed is { } s ? new Random(unchecked((int)(s ^ (s >> 32)))) : new Random();
        _probabilities = new float[vocabSize];
        _order = new int[vocabSize];
    }

    /// <summary>Index of the largest logit (the lowest index among ties).</summary>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > logits[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <param name="topK">0 = no limit.</param>
    /// <param name="topP">1 = no limit.</param>
    public int Sample(ReadOnlySpan<float> logits, double temperature, int topK, double topP)
    {
        if (temperature <= 0)
        {
            return Argmax(logits);
        }

        var n = logits.Length;
        var max = logits[Argmax(logits)];
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            _probabilities[i] = MathF.Exp((float)((logits[i] - max) / temperature));
            sum += _probabilities[i];
            _order[i] = i;
        }

        var candidates = n;
        if (topK > 0 && topK < n || topP < 1)
        {
            // Sort candidates by probability, descending (ties by id for determinism).
            var probs = _probabilities;
            Array.Sort(_order, 0, n, Comparer<int>.Create((a, b) => probs[b] != probs[a] ? probs[b].CompareTo(probs[a]) : a.CompareTo(b)));
            if (topK > 0)
            {
                candidates = Math.Min(candidates, topK);
            }

            if (topP < 1)
            {
                var cumulative = 0.0;
                var kept = 0;
                while (kept < candidates)
                {
                    cumulative += _probabilities[_order[kept++]] / sum;
                    if (cumulative >= topP)
                    {
                        break;
                    }
                }

                candidates = kept;
            }

            sum = 0;
            for (var i = 0; i < candidates; i++)
            {
                sum += _probabilities[_order[i]];
            }
        }

        var target = _random.NextDouble() * sum;
        for (var i = 0; i < candidates; i++)
        {
            target -= _probabilities[_order[i]];
            if (target <= 0)
            {
                return _order[i];
            }
        }

        return _order[candidates - 1];
    }
}
