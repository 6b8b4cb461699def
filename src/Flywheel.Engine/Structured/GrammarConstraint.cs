using System.Diagnostics;
using Flywheel.Sampling;

namespace Flywheel.Structured;

/// <summary>
/// A <see cref="GrammarMatcher"/> as the engine's <see cref="ITokenConstraint"/>, timing each mask.
/// Created on the request thread, then used by the engine thread only.
/// </summary>
public sealed class GrammarConstraint : ITokenConstraint
{
    private readonly GrammarMatcher _matcher;
    private readonly Action<double>? _maskSeconds;

    /// <param name="grammar">The compiled schema (shared across requests).</param>
    /// <param name="vocabulary">The model's vocabulary (shared across requests).</param>
    /// <param name="maskSeconds">Called on the engine thread with the wall time of each mask, in seconds.</param>
    public GrammarConstraint(JsonSchemaGrammar grammar, TokenVocabulary vocabulary, Action<double>? maskSeconds = null)
    {
        _matcher = new GrammarMatcher(grammar, vocabulary);
        _maskSeconds = maskSeconds;
    }

    /// <summary>
    /// A constraint whose answer is complete and valid within <paramref name="maxTokens"/> tokens
    /// (the request's max_tokens, which must be what the engine will stop at): near the end of the
    /// budget only tokens that still let the document close are allowed.
    /// </summary>
    /// <param name="grammar">The compiled schema (shared across requests).</param>
    /// <param name="vocabulary">The model's vocabulary (shared across requests).</param>
    /// <param name="maxTokens">The most tokens the engine will generate for the request.</param>
    /// <param name="maskSeconds">Called on the engine thread with the wall time of each mask, in seconds.</param>
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="maxTokens"/> is below <see cref="JsonSchemaGrammar.MinimumTokens"/>: check that first to refuse the request.
    /// </exception>
    public GrammarConstraint(JsonSchemaGrammar grammar, TokenVocabulary vocabulary, int maxTokens, Action<double>? maskSeconds = null)
    {
        _matcher = new GrammarMatcher(grammar, vocabulary, maxTokens);
        _maskSeconds = maskSeconds;
    }

    public int MaskLength => _matcher.MaskLength;

    public bool IsFinished => _matcher.IsTerminated;

    /// <summary>Masks computed so far.</summary>
    public int MaskCount { get; private set; }

    /// <summary>Total time spent computing masks, in seconds.</summary>
    public double MaskSeconds { get; private set; }

    public void ComputeMask(Span<uint> bitmask)
    {
        var started = Stopwatch.GetTimestamp();
        _matcher.ComputeMask(bitmask);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        MaskCount++;
        MaskSeconds += seconds;
        _maskSeconds?.Invoke(seconds);
    }

    public bool TryAccept(int tokenId) => _matcher.TryAccept(tokenId);
}
