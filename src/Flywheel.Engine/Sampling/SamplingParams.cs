namespace Flywheel.Sampling;

/// <summary>How one sequence picks its tokens. Defaults: greedy, no penalties, no logprobs.</summary>
public sealed record SamplingParams
{
    /// <summary>0 = greedy (argmax).</summary>
    public double Temperature { get; init; }

    /// <summary>0 = no limit.</summary>
    public int TopK { get; init; }

    /// <summary>1 = no limit.</summary>
    public double TopP { get; init; } = 1.0;

    /// <summary>Drop tokens whose probability is below MinP times the most likely token's; 0 = off.</summary>
    public double MinP { get; init; }

    /// <summary>Subtracted once from the logit of every token already generated (OpenAI's presence_penalty).</summary>
    public double PresencePenalty { get; init; }

    /// <summary>Subtracted from a token's logit once per time it was generated (OpenAI's frequency_penalty).</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>Divides positive / multiplies negative logits of tokens seen in prompt or output (HF/vLLM); 1 = off.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Seed of this sequence's random stream; null = nondeterministic.</summary>
    public long? Seed { get; init; }

    /// <summary>Top-N log probabilities to report per token; null = none.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>Errors naming each field out of range (empty when valid).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
        {
            errors.Add($"temperature must be >= 0, got {Temperature}");
        }

        if (TopK < 0)
        {
            errors.Add($"top_k must be >= 0, got {TopK}");
        }

        if (!(TopP > 0 && TopP <= 1))
        {
            errors.Add($"top_p must be in (0, 1], got {TopP}");
        }

        if (!(MinP >= 0 && MinP <= 1))
        {
            errors.Add($"min_p must be in [0, 1], got {MinP}");
        }

        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty))
        {
            errors.Add($"repetition_penalty must be > 0, got {RepetitionPenalty}");
        }

        if (!double.IsFinite(PresencePenalty) || !double.IsFinite(FrequencyPenalty))
        {
            errors.Add("presence_penalty and frequency_penalty must be finite");
        }

        if (TopLogprobs is < 0)
        {
            errors.Add($"top_logprobs must be >= 0, got {TopLogprobs}");
        }

        return errors;
    }
}

/// <summary>The chosen token with its log probability and the top alternatives (when asked for).</summary>
public readonly record struct SampledToken(int Id, float Logprob, (int Id, float Logprob)[]? TopLogprobs);
