using Flywheel.Tokenization;

namespace Flywheel.Structured;

/// <summary>Builds a grammar's <see cref="TokenVocabulary"/> from the engine's <see cref="Tokenizer"/>.</summary>
public static class TokenizerVocabulary
{
    /// <summary>
    /// Each token id's bytes as the tokenizer decodes them; special tokens (and ids past the tokenizer's
    /// vocabulary, up to <paramref name="vocabSize"/>, the model's logits width) have none, so a mask
    /// never allows them, except the end-of-sequence ids once the value is complete.
    /// </summary>
    public static TokenVocabulary Create(Tokenizer tokenizer, IReadOnlyCollection<int> eosTokenIds, int? vocabSize = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        var count = Math.Max(vocabSize ?? tokenizer.VocabSize, tokenizer.VocabSize);
        var tokens = new byte[]?[count];
        for (var id = 0; id < tokenizer.VocabSize; id++)
        {
            tokens[id] = tokenizer.IsSpecial(id) ? null : tokenizer.GetTokenBytes(id);
        }

        return TokenVocabulary.Create(tokens, eosTokenIds.Where(id => id >= 0 && id < count).Distinct().ToArray());
    }
}
