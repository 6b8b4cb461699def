using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>Mask-cache entries in a form tests compare: the accepted tokens' mask words and the uncertain tokens in order.</summary>
internal static class MaskEntries
{
    public static string Describe(MaskCache.Entry entry, TokenVocabulary vocab)
    {
        var mask = new uint[vocab.MaskLength];
        entry.OrInto(mask, vocab.Count);
        return string.Join(',', mask) + "|" + string.Join(',', entry.Uncertain.Order());
    }
}
