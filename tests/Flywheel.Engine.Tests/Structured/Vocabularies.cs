using System.Text;
using System.Text.Json;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>Vocabularies for mask tests: a synthetic BPE-like one and the real Llama-3 one.</summary>
internal static class Vocabularies
{
    private static readonly Lazy<(TokenVocabulary Vocab, int Eos)> SyntheticLazy = new(BuildSynthetic);
    private static readonly Lazy<TokenVocabulary?> Llama3Lazy = new(LoadLlama3);

    public static (TokenVocabulary Vocab, int Eos) Synthetic => SyntheticLazy.Value;

    /// <summary>Llama-3's 128,256 tokens, or null when the test assets cannot be installed.</summary>
    public static TokenVocabulary? Llama3 => Llama3Lazy.Value;

    /// <summary>A new vocabulary of <paramref name="warm"/>'s tokens and end tokens, made without its warm-ups (empty caches).</summary>
    public static TokenVocabulary Cold(TokenVocabulary warm)
    {
        var tokens = Enumerable.Range(0, warm.Count).Select(t => (byte[]?)warm.BytesOf(t).ToArray()).ToList();
        return TokenVocabulary.Create(tokens, [.. warm.EosTokenIds], warmRegions: false);
    }

    /// <summary>All 256 single bytes, JSON-ish multi-byte pieces (some splitting UTF-8 sequences), two specials and an eos.</summary>
    private static (TokenVocabulary, int) BuildSynthetic()
    {
        var samples = new[]
        {
            """{"name": "Zoë Smith", "age": 42, "email": "zoe@example.com", "tags": ["a", "b"]}""",
            """{"value":1,"children":[{"value":-2.5e3},{"value":null}],"kind":"a","ok":true,"date":"2024-02-29"}""",
            "[\n  {\"id\": \"123e4567-e89b-12d3-a456-426614174000\", \"ip\": \"192.168.0.1\"},\n  false\n]",
            """{"s":"line\nbreak \"quoted\" \\ \u00e9 日本語 😀","n":0.125,"x":{"y":{"z":[]}}}""",
        };
        var pieces = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var s in samples)
        {
            for (var len = 2; len <= 7; len++)
            {
                for (var i = 0; i + len <= s.Length; i++)
                {
                    pieces.Add(s.Substring(i, len));
                }
            }
        }

        var tokens = new List<byte[]?>();
        for (var b = 0; b < 256; b++)
        {
            tokens.Add([(byte)b]);
        }

        tokens.Add(null); // a special token
        foreach (var p in pieces)
        {
            tokens.Add(Encoding.UTF8.GetBytes(p));
        }

        tokens.Add([0xF0, 0x9F]); // half an emoji
        tokens.Add([0x98, 0x80, 0x22, 0x7D]); // rest of an emoji, then "}
        tokens.Add([]); // another special
        tokens.Add(null); // eos
        var eos = tokens.Count - 1;
        return (TokenVocabulary.Create(tokens, [eos]), eos);
    }

    /// <summary>The real Llama-3 vocabulary as the engine's tokenizer sees it: each token's bytes, special tokens none.</summary>
    private static TokenVocabulary? LoadLlama3()
    {
        var tokenizer = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir("llama3"), "tokenizer.json"));
        return TokenVocabulary.FromTokenizer(tokenizer, [128001, 128009]);
    }
}
