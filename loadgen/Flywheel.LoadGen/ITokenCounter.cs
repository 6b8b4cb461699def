namespace Flywheel.LoadGen;

/// <summary>
/// Counts the tokens a server's tokenizer would produce for a piece of text, so synthetic prompts
/// can be cut to an exact length. Implementations must be thread-safe: the load generator may build
/// prompts from several threads at once.
/// </summary>
public interface ITokenCounter
{
    /// <summary>Number of tokens in <paramref name="text"/>, without any special tokens (no BOS, no template).</summary>
    int Count(string text);
}

/// <summary>
/// The fallback when no tokenizer is given: one token per whitespace-separated word of up to
/// 8 characters, and one per started 4 characters for longer words. Synthetic prompts are made of
/// short common English words, which BPE vocabularies (Llama 3, Qwen, GPT) encode as one token each
/// when preceded by a space, so for those prompts the estimate is close; for other text it is rough.
/// </summary>
public sealed class ApproximateTokenCounter : ITokenCounter
{
    /// <summary>The shared instance (the counter has no state).</summary>
    public static ApproximateTokenCounter Instance { get; } = new();

    /// <inheritdoc />
    public int Count(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var count = 0;
        var wordLength = 0;
        foreach (var c in text)
        {
            if (char.IsWhiteSpace(c))
            {
                count += WordTokens(wordLength);
                wordLength = 0;
            }
            else
            {
                wordLength++;
            }
        }
        return count + WordTokens(wordLength);
    }

    private static int WordTokens(int length) => length == 0 ? 0 : length <= 8 ? 1 : (length + 3) / 4;
}
