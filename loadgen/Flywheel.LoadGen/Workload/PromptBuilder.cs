namespace Flywheel.LoadGen.Workload;

/// <summary>
/// Builds synthetic prompts of a planned token length from random common words. With a real
/// tokenizer's counter the length is exact whenever the vocabulary allows it (within one token
/// otherwise); with <see cref="ApproximateTokenCounter"/> it is exact by that counter's measure.
/// Thread-safe if the counter is.
/// </summary>
internal sealed class PromptBuilder(ITokenCounter counter)
{
    // Short, frequent English words that BPE tokenizers hold, with their leading space, as one token
    // each, so the approximate count (one per word) is right. Checked against the Llama 3 and Qwen 3
    // tokenizers (the test assets): every word is one token, and 1000 random words are 1000 tokens.
    private static readonly string[] Words =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
        "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they",
        "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
        "when", "will", "would", "who", "so", "no", "she", "other", "its", "may", "these", "what", "them",
        "than", "some", "him", "time", "into", "only", "do", "out", "any", "then", "first", "about", "new",
        "two", "very", "over", "like", "could", "our", "me", "my", "should", "made", "after", "such", "most",
        "also", "many", "work", "where", "well", "must", "people", "way", "years", "how", "even", "much",
        "water", "before", "through", "back", "good", "under", "long", "day", "same", "right", "still",
        "world", "great", "small", "light", "house", "city", "river", "music", "paper", "story", "green",
        "model", "data", "table", "level", "order", "point", "value", "place", "space", "power", "early",
    ];

    // Tried in turn to close a gap of a token or two left by a multi-token word.
    private static readonly string[] Fillers = [" a", " I", " the", " of", "."];

    public ITokenCounter Counter { get; } = counter;

    /// <summary>
    /// A prompt of about <paramref name="targetTokens"/> tokens: <paramref name="preamble"/> (when it fits)
    /// followed by random words. Returns the text and its count by <see cref="Counter"/>.
    /// </summary>
    public (string Text, int TokenCount) Build(int targetTokens, Random rng, string? preamble = null)
    {
        var prefix = preamble is not null && Counter.Count(preamble) < targetTokens ? preamble + " " : "";

        // Enough words to overshoot (each word is at least one token), grown if the counter disagrees.
        var words = new List<string>(targetTokens + 8);
        AddWords(words, rng, targetTokens + 8);
        for (var attempt = 0; attempt < 8 && Counter.Count(Compose(prefix, words, words.Count)) < targetTokens; attempt++)
        {
            AddWords(words, rng, words.Count);
        }

        // Largest word prefix whose count does not exceed the target (the count grows with the words).
        int low = 0, high = words.Count;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (Counter.Count(Compose(prefix, words, mid)) <= targetTokens)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        var text = Compose(prefix, words, low);
        var count = Counter.Count(text);
        while (count < targetTokens && TryCloseGap(ref text, ref count, targetTokens))
        {
        }
        return (text, count);
    }

    private bool TryCloseGap(ref string text, ref int count, int targetTokens)
    {
        foreach (var filler in Fillers)
        {
            var candidate = text.Length == 0 ? filler.TrimStart() : text + filler;
            var candidateCount = Counter.Count(candidate);
            if (candidateCount > count && candidateCount <= targetTokens)
            {
                (text, count) = (candidate, candidateCount);
                return true;
            }
        }
        return false;
    }

    private static void AddWords(List<string> words, Random rng, int count)
    {
        for (var i = 0; i < count; i++)
        {
            words.Add(Words[rng.Next(Words.Length)]);
        }
    }

    private static string Compose(string prefix, List<string> words, int wordCount) =>
        prefix + string.Join(' ', words.Take(wordCount));
}
