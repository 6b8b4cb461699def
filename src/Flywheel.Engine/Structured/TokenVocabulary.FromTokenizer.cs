using Flywheel.Tokenization;

namespace Flywheel.Structured;

/// <summary>Building the vocabulary a grammar mask needs from the engine's <see cref="Tokenizer"/>.</summary>
public sealed partial class TokenVocabulary
{
    /// <summary>
    /// Token i's bytes are exactly what <see cref="Tokenizer.GetTokenBytes"/> says decoding it adds;
    /// special tokens and ids the tokenizer does not define get none, so a mask never allows them
    /// (except <paramref name="eosTokenIds"/> once the value is complete).
    /// </summary>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="eosTokenIds">End-of-sequence ids (e.g. <see cref="Tokenizer.EosTokenIds"/>, or a model's generation config); may be empty.</param>
    /// <param name="vocabSize">
    /// The model's vocabulary size (its logits' width), which may exceed the tokenizer's
    /// <see cref="Tokenizer.VocabSize"/>; the extra ids are special (never allowed). Null = the tokenizer's size.
    /// </param>
    public static TokenVocabulary FromTokenizer(Tokenizer tokenizer, IReadOnlyCollection<int> eosTokenIds, int? vocabSize = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        var count = vocabSize ?? tokenizer.VocabSize;
        if (count < tokenizer.VocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"the model's vocabulary ({count}) is smaller than the tokenizer's ({tokenizer.VocabSize})");
        }

        var tokens = new byte[]?[count];
        for (var id = 0; id < tokenizer.VocabSize; id++)
        {
            tokens[id] = tokenizer.IsSpecial(id) ? null : tokenizer.GetTokenBytes(id);
        }

        return Create(tokens, eosTokenIds);
    }
}
