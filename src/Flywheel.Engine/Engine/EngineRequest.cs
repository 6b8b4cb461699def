using Flywheel.Sampling;

namespace Flywheel.Execution;

/// <summary>A request for the engine: token ids in, tokens out.</summary>
public sealed record EngineRequest
{
    public required IReadOnlyList<int> PromptIds { get; init; }

    /// <summary>Most tokens to generate (capped by what the context leaves).</summary>
    public required int MaxTokens { get; init; }

    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Keep generating past end-of-sequence tokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Extra token ids that end generation (besides the model's eos ids).</summary>
    public IReadOnlyCollection<int> StopTokenIds { get; init; } = [];

    /// <summary>
    /// Restricts the tokens this request may sample (structured output); null = unconstrained. The engine
    /// owns it after submission. The request stops (finish reason Stop) once the constraint is finished,
    /// and fails alone if the constraint ever allows no token.
    /// </summary>
    public ITokenConstraint? Constraint { get; init; }

    /// <summary>Cancelling aborts the request; its slot is freed on the next step.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// Cancelling ends the request with finish reason Stop on the next step (a stop string completed on the
    /// reading side); it takes precedence over <see cref="CancellationToken"/> when both are cancelled.
    /// </summary>
    public CancellationToken StopCancellationToken { get; init; }

    /// <summary>The adapter slot this request runs with (from LoadAdapterAsync); 0 = the base model.</summary>
    public int AdapterSlot { get; init; }

    /// <summary>Why the engine refuses this request (bad sampling parameters, a prompt or max_tokens the context cannot hold, a token outside the vocabulary), or null.</summary>
    internal string? Refusal(int contextLength, int vocabSize)
    {
        var errors = Sampling.Validate();
        if (errors.Count > 0)
        {
            return string.Join("; ", errors);
        }

        if (PromptIds.Count == 0 || PromptIds.Count >= contextLength)
        {
            return $"the prompt has {PromptIds.Count} tokens; it must have between 1 and {contextLength - 1} (context length {contextLength})";
        }

        if (MaxTokens < 1 || PromptIds.Count + (long)MaxTokens > contextLength)
        {
            return $"prompt ({PromptIds.Count} tokens) + max_tokens ({MaxTokens}) exceeds the context length {contextLength}";
        }

        foreach (var t in PromptIds)
        {
            if ((uint)t >= (uint)vocabSize)
            {
                return $"the prompt holds a token id outside the vocabulary (size {vocabSize})";
            }
        }

        return null;
    }
}
