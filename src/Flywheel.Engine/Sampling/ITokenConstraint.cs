namespace Flywheel.Sampling;

/// <summary>
/// Restricts which tokens one sequence may sample next (structured output). The engine asks for the
/// allowed set before each token of the sequence, samples among those tokens only, then reports the
/// chosen token back. One instance per request; after submission it is used by the engine thread
/// only, so implementations need not be thread-safe.
/// </summary>
public interface ITokenConstraint
{
    /// <summary>Length of the allowed-token bitmask in 32-bit words. Token ids at or above <c>MaskLength * 32</c> are never allowed.</summary>
    int MaskLength { get; }

    /// <summary>True once the constrained value has ended (its end-of-sequence token was accepted): the request stops.</summary>
    bool IsFinished { get; }

    /// <summary>Writes the allowed set: bit (id &amp; 31) of word id / 32 set = token id allowed. <paramref name="bitmask"/> holds <see cref="MaskLength"/> words.</summary>
    void ComputeMask(Span<uint> bitmask);

    /// <summary>Advances on the sampled token; false (and no change) if it was not allowed.</summary>
    bool TryAccept(int tokenId);
}
