using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Benchmarks;

/// <summary>
/// Schema compile time and token-mask time per generated token on a 128k vocabulary (Llama-3's when
/// the test assets are installed, else a synthetic one of the same size). For each schema it
/// replays a fixed valid document tokenized greedily, timing ComputeMask at every step: first with
/// a cold mask cache (a new grammar), then warm (a second request on the same grammar).
/// </summary>
internal sealed class GrammarBenchmark : IBenchmark
{
    internal static readonly (string Name, string Schema, string Document)[] Cases =
    [
        ("person", """{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":"string","format":"email"}},"required":["name","age","email"],"additionalProperties":false}""",
            """{"name": "Ada Lovelace", "age": 36, "email": "ada@example.com"}"""),
        ("order", """{"type":"object","properties":{"id":{"type":"string","format":"uuid"},"created":{"type":"string","format":"date-time"},"status":{"enum":["new","paid","shipped"]},"items":{"type":"array","minItems":1,"items":{"type":"object","properties":{"sku":{"type":"string","pattern":"^[A-Z]{3}-\\d{4}$"},"qty":{"type":"integer","minimum":1},"price":{"type":"number","minimum":0}},"required":["sku","qty","price"],"additionalProperties":false}},"note":{"type":["string","null"],"maxLength":200}},"required":["id","created","status","items"],"additionalProperties":false}""",
            """{"id": "123e4567-e89b-12d3-a456-426614174000", "created": "2024-05-01T12:30:00Z", "status": "paid", "items": [{"sku": "ABC-1234", "qty": 2, "price": 9.99}, {"sku": "XYZ-0001", "qty": 1, "price": 120}], "note": "Leave the parcel at the front door, please."}"""),
        ("tree", """{"$defs":{"node":{"type":"object","properties":{"label":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["label"],"additionalProperties":false}},"$ref":"#/$defs/node"}""",
            """{"label": "root", "children": [{"label": "a", "children": [{"label": "a1"}, {"label": "a2"}]}, {"label": "b"}]}"""),
        ("json_object", "", """{"title": "Report", "values": [1, 2.5, -3e2], "flags": {"ok": true, "why": null}, "text": "line one\nline two"}"""),

        // Wide enough that members share the part after their key as a rule (GrammarBuilder.SharedMembersFrom, 256):
        // tokens that run past a string's closing quote are then checked against the stack.
        ("wide", "{\"type\":\"object\",\"properties\":{" + string.Join(',', Enumerable.Range(0, 300).Select(i => $"\"field{i}\":{{\"type\":\"string\"}}")) + "}}",
            """{"field3": "Ada Lovelace", "field10": "ada@example.com", "field42": "Leave the parcel at the front door.", "field77": "paid", "field99": "x"}"""),
    ];

    public string Name => "grammar";

    public string Description => "JSON Schema grammar: compile time and mask time per token on a 128k vocabulary";

    public int Run(string[] args)
    {
        var (vocab, source) = LoadVocabulary();
        Console.WriteLine($"vocabulary: {vocab.Count} tokens ({source})");
        Console.WriteLine($"{"schema",-12} {"states",7} {"compile ms (median)",20} {"tokens",7} {"cold mask us p50/p90/max",26} {"warm mask us p50/p90/max",26}");
        foreach (var (name, schema, document) in Cases)
        {
            var compileMs = BenchStats.Median(Enumerable.Range(0, 5).Select(_ => Compile(schema).CompileMilliseconds));
            var grammar = Compile(schema);
            var tokens = Tokenize(grammar, vocab, document);
            var cold = Replay(new GrammarMatcher(grammar, vocab), tokens);
            var warm = Replay(new GrammarMatcher(grammar, vocab), tokens);
            Console.WriteLine($"{name,-12} {grammar.StateCount,7} {compileMs,20:F2} {tokens.Count,7} {Stats(cold),26} {Stats(warm),26}");
        }

        return 0;
    }

    private static JsonSchemaGrammar Compile(string schema) =>
        schema.Length == 0 ? JsonSchemaGrammar.AnyJsonObject() : JsonSchemaGrammar.Compile(schema);

    private static string Stats(List<double> us)
    {
        us.Sort();
        return $"{us[us.Count / 2]:F1}/{us[(int)(us.Count * 0.9)]:F1}/{us[^1]:F0}";
    }

    /// <summary>Mask time of every step in microseconds, accepting the document's tokens in turn.</summary>
    internal static List<double> Replay(GrammarMatcher m, List<int> tokens)
    {
        var mask = new uint[m.MaskLength];
        var times = new List<double>();
        foreach (var t in tokens)
        {
            var start = Stopwatch.GetTimestamp();
            m.ComputeMask(mask);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            if ((mask[t >> 5] & (1u << (t & 31))) == 0 || !m.TryAccept(t))
            {
                throw new InvalidOperationException($"token {t} of the replayed document is not allowed");
            }
        }

        return times;
    }

    /// <summary>Greedy longest-match tokenization that only uses tokens the grammar allows.</summary>
    internal static List<int> Tokenize(JsonSchemaGrammar grammar, TokenVocabulary vocab, string document)
    {
        var byBytes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var t = 0; t < vocab.Count; t++)
        {
            var b = vocab.BytesOf(t);
            if (!b.IsEmpty && !vocab.IsEos(t))
            {
                byBytes.TryAdd(Convert.ToHexString(b), t);
            }
        }

        var bytes = Encoding.UTF8.GetBytes(document);
        var m = new GrammarMatcher(grammar, vocab);
        var result = new List<int>();
        for (var i = 0; i < bytes.Length;)
        {
            var found = false;
            for (var len = Math.Min(16, bytes.Length - i); len > 0 && !found; len--)
            {
                if (byBytes.TryGetValue(Convert.ToHexString(bytes, i, len), out var id) && m.TryAccept(id))
                {
                    result.Add(id);
                    i += len;
                    found = true;
                }
            }

            if (!found)
            {
                throw new InvalidOperationException($"cannot tokenize the document at byte {i}");
            }
        }

        result.Add(vocab.EosTokenIds[0]);
        return result;
    }

    internal static (TokenVocabulary, string) LoadVocabulary()
    {
        var assets = Environment.GetEnvironmentVariable("FLYWHEEL_TEST_ASSETS");
        var path = assets is null ? null : Path.Combine(assets, "@lenml", "tokenizer-llama3", "models", "tokenizer.json");
        if (path is not null && File.Exists(path))
        {
            return (Llama3(path), "Llama-3 tokenizer.json");
        }

        // Synthetic: 256 bytes plus random printable pieces of 2-10 bytes, 128,256 in all.
        var rng = new Random(42);
        var tokens = new List<byte[]?>();
        for (var b = 0; b < 256; b++)
        {
            tokens.Add([(byte)b]);
        }

        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \"{}[],:.-_\n";
        while (tokens.Count < 128_255)
        {
            tokens.Add([.. Enumerable.Range(0, rng.Next(2, 11)).Select(_ => (byte)alphabet[rng.Next(alphabet.Length)])]);
        }

        tokens.Add(null);
        return (TokenVocabulary.Create(tokens, [tokens.Count - 1]), "synthetic; set FLYWHEEL_TEST_ASSETS for Llama-3");
    }

    private static TokenVocabulary Llama3(string path)
    {
        var decode = new Dictionary<char, byte>();
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            decode[printable ? (char)b : (char)next++] = (byte)b;
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var tokens = new byte[]?[128_256];
        foreach (var entry in doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject())
        {
            tokens[entry.Value.GetInt32()] = [.. entry.Name.Select(c => decode[c])];
        }

        return TokenVocabulary.Create(tokens, [128001, 128009]);
    }
}
