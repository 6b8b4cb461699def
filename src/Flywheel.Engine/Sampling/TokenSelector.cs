namespace Flywheel.Sampling;

/// <summary>
/// Picks a request's next token from one row of logits, through its constraint when it has one. A
/// constraint that allows nothing, refuses the token it allowed, or throws, fails that request only: the
/// outcome carries the error instead of a token.
/// </summary>
internal static class TokenSelector
{
    /// <param name="mask">[constraint.MaskLength] scratch for the allowed-token bitmask; unused without a constraint.</param>
    /// <returns>Null with the token, or why the request fails.</returns>
    public static string? TrySelect(TokenSampler sampler, ITokenConstraint? constraint, uint[]? mask, ReadOnlySpan<float> logits, out SampledToken token)
    {
        if (constraint is null || mask is null)
        {
            token = sampler.Sample(logits);
            return null;
        }

        token = default;
        try
        {
            constraint.ComputeMask(mask);
            if (!AnyAllowed(mask, logits.Length))
            {
                return "the response format allows no next token";
            }

            token = sampler.Sample(logits, mask);
            if (!constraint.TryAccept(token.Id))
            {
                return $"the response format refused token {token.Id} that its mask allowed";
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A constraint bug fails its own request, not the others of this step.
            return "the response format failed: " + e.Message;
        }

        return null;
    }

    private static bool AnyAllowed(ReadOnlySpan<uint> mask, int vocabSize)
    {
        var words = Math.Min(mask.Length, (vocabSize + 31) / 32);
        for (var w = 0; w < words; w++)
        {
            var bits = mask[w];
            if (w == (vocabSize - 1) / 32 && vocabSize % 32 != 0)
            {
                bits &= (1u << (vocabSize % 32)) - 1;
            }

            if (bits != 0)
            {
                return true;
            }
        }

        return false;
    }
}
