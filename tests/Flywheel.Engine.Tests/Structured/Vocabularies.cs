using System.Text;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>Vocabularies for mask tests: a synthetic BPE-like one and the real Llama-3 one.</summary>
internal static class Vocabularies
{
    private static readonly Lazy<(TokenVocabulary Vocab, int Eos)> SyntheticLazy = new(BuildSynthetic);
    private static readonly Lazy<TokenVocabulary?> Llama3Lazy = new(LoadLlama3);

    public static (TokenVocabulary Vocab, int Eos) Synthetic => SyntheticLazy.Value;

    /// <summary>Llama-3's 128,256 tokens, or null when the test assets cannot be installed.</summary>
    public static TokenVocabulary? Llama3 => Llama3Lazy.Value;

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

    private static TokenVocabulary? LoadLlama3()
    {
        var assets = TestAssetsDir();
        var path = assets is null ? null : Path.Combine(assets, "@lenml", "tokenizer-llama3", "models", "tokenizer.json");
        if (path is null || !File.Exists(path))
        {
            return null;
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var model = doc.RootElement.GetProperty("model");
        var decode = ByteLevelDecoding();
        var tokens = new List<byte[]?>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            var id = entry.Value.GetInt32();
            while (tokens.Count <= id)
            {
                tokens.Add(null);
            }

            tokens[id] = [.. entry.Name.Select(c => decode[c])];
        }

        foreach (var added in doc.RootElement.GetProperty("added_tokens").EnumerateArray())
        {
            var id = added.GetProperty("id").GetInt32();
            while (tokens.Count <= id)
            {
                tokens.Add(null);
            }

            tokens[id] = null; // special tokens have no text for the grammar
        }

        return TokenVocabulary.Create(tokens, [128001, 128009]);
    }

    /// <summary>Inverse of GPT-2's byte-to-unicode table: printable bytes stand for themselves, the rest map to U+0100 upward.</summary>
    private static Dictionary<char, byte> ByteLevelDecoding()
    {
        var map = new Dictionary<char, byte>();
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[printable ? (char)b : (char)next++] = (byte)b;
        }

        return map;
    }

    private static string? TestAssetsDir()
    {
        var dir = Environment.GetEnvironmentVariable("FLYWHEEL_TEST_ASSETS");
        if (!string.IsNullOrEmpty(dir))
        {
            return dir;
        }

        // Not run through test.sh: install (or find) the assets ourselves.
        var root = AppContext.BaseDirectory;
        while (root is not null && !File.Exists(Path.Combine(root, "build", "fetch-test-assets.sh")))
        {
            root = Path.GetDirectoryName(root);
        }

        if (root is null)
        {
            return null;
        }

        var psi = new System.Diagnostics.ProcessStartInfo("bash", Path.Combine(root, "build", "fetch-test-assets.sh"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode == 0 ? output : null;
    }
}
