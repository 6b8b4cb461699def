using Flywheel.Sampling;

namespace Flywheel.Server.Tests.Testing;

/// <summary>Forces the first tokens (where <paramref name="inner"/>, if any, allows them), then leaves the choice to the model under <paramref name="inner"/>.</summary>
internal sealed class ForcedTokens(ITokenConstraint? inner, int[] forced, int vocabSize) : ITokenConstraint
{
    private int _at;

    public int MaskLength => inner?.MaskLength ?? (vocabSize + 31) / 32;

    public bool IsFinished => inner?.IsFinished ?? false;

    public void ComputeMask(Span<uint> bitmask)
    {
        if (inner is null)
        {
            bitmask.Fill(uint.MaxValue);
        }
        else
        {
            inner.ComputeMask(bitmask);
        }

        if (_at < forced.Length)
        {
            var token = forced[_at];
            var kept = bitmask[token >> 5] & (1u << (token & 31));
            bitmask.Clear();
            bitmask[token >> 5] = kept;
        }
    }

    public bool TryAccept(int tokenId)
    {
        if (inner is not null && !inner.TryAccept(tokenId))
        {
            return false;
        }

        _at++;
        return true;
    }
}
