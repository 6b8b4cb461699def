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
