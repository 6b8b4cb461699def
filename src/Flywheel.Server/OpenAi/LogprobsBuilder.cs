using System.Text;
using Flywheel.Serving;

namespace Flywheel.Server.OpenAi;

/// <summary>Converts generated tokens into OpenAI's two logprobs shapes (chat and legacy completions).</summary>
internal static class LogprobsBuilder
{
    /// <summary>Chat shape: one entry per token with its bytes and top alternatives.</summary>
    public static ChatLogprobs Chat(IEnumerable<GeneratedToken> tokens) =>
        new(tokens.Select(t => new TokenLogprob(
            t.Text,
            t.Logprob ?? 0,
            Bytes(t.Text),
            (t.TopLogprobs ?? []).Select(c => new TopLogprob(c.Text, c.Logprob, Bytes(c.Text))).ToList())).ToList());

    /// <summary>
    /// Completions shape: parallel arrays. <paramref name="textOffset"/> is where the first token starts in the
    /// whole completion; it is advanced past the tokens so a stream's chunks continue the count.
    /// </summary>
    public static CompletionLogprobs Completion(IReadOnlyList<GeneratedToken> tokens, ref int textOffset)
    {
        var offsets = new List<int>(tokens.Count);
        foreach (var token in tokens)
        {
            offsets.Add(textOffset);
            textOffset += token.Text.Length;
        }

        return new CompletionLogprobs(
            tokens.Select(t => t.Text).ToList(),
            tokens.Select(t => t.Logprob ?? 0).ToList(),
            tokens.Select(TopDictionary).ToList(),
            offsets);
    }

    private static IReadOnlyDictionary<string, double> TopDictionary(GeneratedToken token)
    {
        // Different ids can decode to the same text; a JSON object keeps the first (the most likely).
        var top = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var candidate in token.TopLogprobs ?? [])
        {
            top.TryAdd(candidate.Text, candidate.Logprob);
        }

        return top;
    }

    private static int[] Bytes(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
}
