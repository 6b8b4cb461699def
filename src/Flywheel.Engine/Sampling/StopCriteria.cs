namespace Flywheel.Sampling;

/// <summary>
/// When a request stops after a sampled token: an end-of-sequence or stop token (unless eos is ignored)
/// or a finished constraint ends it with <see cref="FinishReason.Stop"/>; max_tokens or the context length
/// with <see cref="FinishReason.Length"/>.
/// </summary>
internal sealed class StopCriteria(IEnumerable<int> eosTokenIds, int contextLength)
{
    private readonly HashSet<int> _eos = [.. eosTokenIds];

    /// <summary>Whether <paramref name="tokenId"/> ends the request as a stop token (a finished constraint ends it even under ignore_eos).</summary>
    public bool IsStop(int tokenId, bool ignoreEos, IReadOnlyCollection<int> stopTokenIds, ITokenConstraint? constraint) =>
        (!ignoreEos && (_eos.Contains(tokenId) || stopTokenIds.Contains(tokenId))) || constraint is { IsFinished: true };

    /// <summary>Why a request with <paramref name="generated"/> new tokens of <paramref name="totalTokens"/> ends now, or null.</summary>
    public FinishReason? Check(bool isStop, int generated, int maxTokens, int totalTokens) =>
        isStop ? FinishReason.Stop
        : generated >= maxTokens || totalTokens >= contextLength ? FinishReason.Length
        : null;
}
