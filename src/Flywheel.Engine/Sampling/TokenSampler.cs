namespace Flywheel.Sampling;

/// <summary>
/// Picks the next token of one sequence from its row of logits: repetition / presence / frequency
/// penalties on the sequence's own history, then greedy (temperature 0) or temperature, top-k, top-p
/// and min-p over a softmax, drawn from the sequence's own seeded random stream, so the same seed gives
/// the same tokens whatever else runs. Scratch buffers are allocated once per sequence; sampling a token
/// allocates nothing unless log probabilities were asked for.
/// </summary>
public sealed class TokenSampler
{
    private readonly SamplingParams _params;
    private readonly Random _random;
    private readonly float[] _logits;          // [vocab] penalized logits
    private readonly float[] _probabilities;   // [vocab]
    private readonly int[] _order;             // [vocab] candidate ids, best first
    private readonly int[] _generatedCount;    // [vocab] times each token was generated
    private readonly bool[] _seen;             // [vocab] token appeared in prompt or output
    private readonly IComparer<int> _byProbability;

    public TokenSampler(int vocabSize, SamplingParams parameters, IEnumerable<int>? promptIds = null)
    {
        _params = parameters;
        _random = parameters.Seed is { } s ? new Random(unchecked((int)(s ^ (s >> 32)))) : new Random();
        _logits = new float[vocabSize];
        _probabilities = new float[vocabSize];
        _order = new int[vocabSize];
        _generatedCount = new int[vocabSize];
        _seen = new bool[vocabSize];
        foreach (var id in promptIds ?? [])
        {
            if ((uint)id < (uint)vocabSize)
            {
                _seen[id] = true;
            }
        }

        var probabilities = _probabilities;
        _byProbability = Comparer<int>.Create((a, b) => probabilities[b] != probabilities[a] ? probabilities[b].CompareTo(probabilities[a]) : a.CompareTo(b));
    }

    /// <summary>Index of the largest value (the lowest index among ties).</summary>
    public static int Argmax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Samples the next token from <paramref name="rawLogits"/> [vocab] and records it in the history.</summary>
    public SampledToken Sample(ReadOnlySpan<float> rawLogits) => Sample(rawLogits, default);

    /// <summary>
    /// Samples among the tokens set in <paramref name="allowed"/> (bit id &amp; 31 of word id / 32; ids past
    /// the mask are disallowed; an empty span allows every token). The caller guarantees at least one
    /// allowed id below the vocabulary size. Log probabilities are those of the masked distribution.
    /// </summary>
    public SampledToken Sample(ReadOnlySpan<float> rawLogits, ReadOnlySpan<uint> allowed)
    {
        var p = _params;
        var n = _logits.Length;
        rawLogits[..n].CopyTo(_logits);
        ApplyPenalties();
        if (!allowed.IsEmpty)
        {
            ApplyMask(allowed);
        }

        var chosen = p.Temperature <= 0 ? Argmax(_logits) : Draw(p);
        var result = p.TopLogprobs is { } top ? WithLogprobs(chosen, top) : new SampledToken(chosen, 0, null);
        _generatedCount[chosen]++;
        _seen[chosen] = true;
        return result;
    }

    /// <summary>Sets the logit of every token not in <paramref name="allowed"/> to -infinity (a word at a time).</summary>
    private void ApplyMask(ReadOnlySpan<uint> allowed)
    {
        var logits = _logits.AsSpan();
        for (var word = 0; word * 32 < logits.Length; word++)
        {
            var bits = word < allowed.Length ? allowed[word] : 0u;
            if (bits == uint.MaxValue)
            {
                continue;
            }

            var start = word * 32;
            var block = logits.Slice(start, Math.Min(32, logits.Length - start));
            if (bits == 0)
            {
                block.Fill(float.NegativeInfinity);
                continue;
            }

            for (var i = 0; i < block.Length; i++)
            {
                if ((bits & (1u << i)) == 0)
                {
                    block[i] = float.NegativeInfinity;
                }
            }
        }
    }

    private void ApplyPenalties()
    {
        var p = _params;
        if (p.RepetitionPenalty == 1 && p.PresencePenalty == 0 && p.FrequencyPenalty == 0)
        {
            return;
        }

        var r = (float)p.RepetitionPenalty;
        for (var i = 0; i < _logits.Length; i++)
        {
            if (_seen[i] && r != 1)
            {
                _logits[i] = _logits[i] > 0 ? _logits[i] / r : _logits[i] * r;
            }

            var count = _generatedCount[i];
            if (count > 0)
            {
                _logits[i] -= (float)(p.PresencePenalty + (p.FrequencyPenalty * count));
            }
        }
    }

    private int Draw(SamplingParams p)
    {
        var n = _logits.Length;
        var max = _logits[Argmax(_logits)];
        var inverseTemperature = 1 / p.Temperature;
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            _probabilities[i] = MathF.Exp((float)((_logits[i] - max) * inverseTemperature));
            sum += _probabilities[i];
            _order[i] = i;
        }

        var candidates = n;
        if ((p.TopK > 0 && p.TopK < n) || p.TopP < 1 || p.MinP > 0)
        {
            Array.Sort(_order, 0, n, _byProbability);
            if (p.TopK > 0)
            {
                candidates = Math.Min(candidates, p.TopK);
            }

            if (p.MinP > 0)
            {
                // The best token has probability 1/sum here (its weight is exp(0) = 1).
                var floor = p.MinP * _probabilities[_order[0]];
                var kept = 1;
                while (kept < candidates && _probabilities[_order[kept]] >= floor)
                {
                    kept++;
                }

                candidates = kept;
            }

            if (p.TopP < 1)
            {
                var cumulative = 0.0;
                var kept = 0;
                while (kept < candidates)
                {
                    cumulative += _probabilities[_order[kept++]] / sum;
                    if (cumulative >= p.TopP)
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
            if (target <= 0 && _probabilities[_order[i]] > 0)
            {
                return _order[i];
            }
        }

        // Rounding left a sliver: the last candidate that has any weight (masked tokens have none).
        for (var i = candidates - 1; i > 0; i--)
        {
            if (_probabilities[_order[i]] > 0)
            {
                return _order[i];
            }
        }

        return _order[0];
    }

    /// <summary>Log-softmax of the penalized logits (before temperature): the chosen token's and the top N.</summary>
    private SampledToken WithLogprobs(int chosen, int top)
    {
        var max = _logits[Argmax(_logits)];
        var sum = 0.0;
        foreach (var v in _logits)
        {
            sum += Math.Exp(v - max);
        }

        var logSum = (float)(max + Math.Log(sum));
        var best = new (int Id, float Logprob)[Math.Min(top, _logits.Length)];
        var filled = 0;
        for (var i = 0; i < _logits.Length; i++)
        {
            var lp = _logits[i] - logSum;
            if (float.IsNegativeInfinity(lp))
            {
                continue; // masked out: not a candidate
            }

            if (filled < best.Length)
            {
                best[filled++] = (i, lp);
            }
            else if (best.Length > 0 && lp > best[^1].Logprob)
            {
                best[^1] = (i, lp);
            }
            else
            {
                continue;
            }

            // Keep best sorted, descending (insertion step).
            for (var k = filled - 1; k > 0 && best[k].Logprob > best[k - 1].Logprob; k--)
            {
                (best[k], best[k - 1]) = (best[k - 1], best[k]);
            }
        }

        if (filled < best.Length)
        {
            Array.Resize(ref best, filled);
        }

        return new SampledToken(chosen, _logits[chosen] - logSum, best);
    }
}
