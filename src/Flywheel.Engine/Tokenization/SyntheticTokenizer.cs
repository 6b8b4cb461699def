// Product code, not test scaffolding: `flywheel make-model` and serve's built-in demo model ship this tokenizer (tests reuse it).
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Flywheel.Tokenization;

/// <summary>
/// Writes a small but real byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) for models
/// built without a downloaded tokenizer: 256 byte tokens, merges learned deterministically from a built-in
/// English/code text, and Llama-3-style special tokens at the top ids, with a Llama-3-like chat template.
/// </summary>
public static class SyntheticTokenizer
{
    /// <summary>Special tokens, in order, at ids vocabSize-5 .. vocabSize-1.</summary>
    public static readonly string[] SpecialTokens = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];

    private const string SplitPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string ChatTemplate =
        "{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

    private const string Corpus = """
        The engine runs every request in small steps. Each step has a budget of tokens: running sequences
        decode first, and the prompts of new requests are cut into chunks that fill the rest of the budget.
        Long prompts never stall generation, and the machine stays busy whatever the traffic looks like.
        A user asks a question, the model answers, and the server streams the answer back token by token.
        def generate(prompt, max_tokens=16):
            ids = tokenizer.encode(prompt)
            for step in range(max_tokens):
                logits = model.forward(ids)
                ids.append(int(logits.argmax()))
            return tokenizer.decode(ids)
        {"name": "flywheel", "version": 1, "tokens": [1, 2, 3], "ok": true, "ratio": 0.95}
        for (int i = 0; i < count; i++) { total += values[i] * weights[i]; }
        Hello, world! How are you today? I'm fine, thanks. What's the weather like where you are?
        Numbers such as 12, 345, 6789 and 3.14159 appear in text, and so do dates like 2026-11-23.
        """;

    /// <summary>
    /// Frequent English words, each learned as one token with its leading space when passed to
    /// <see cref="Write(string, int, string)"/>: the words load generators build synthetic prompts from
    /// (flywheel loadgen counts one token per word), so prompt lengths they plan hold on the demo model.
    /// </summary>
    public const string CommonWordsCorpus = """
        the of and to in is that for it as was with be by on not he this are or his from at which but have an had they
        you were their one all we can her has there been if more when will would who so no she other its may these what them
        than some him time into only do out any then first about new two very over like could our me my should made after such most
        also many work where well must people way years how even much water before through back good under long day same right still
        world great small light house city river music paper story green model data table level order point value place space power early
        a I
        """;

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/>.</summary>
    public static void Write(string directory, int vocabSize) => Write(directory, vocabSize, "");

    /// <summary>
    /// Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/>, learning merges
    /// from the built-in text followed by <paramref name="extraCorpus"/> (e.g. <see cref="CommonWordsCorpus"/>).
    /// </summary>
    public static void Write(string directory, int vocabSize, string extraCorpus)
    {
        if (vocabSize < 256 + SpecialTokens.Length + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"a byte-level tokenizer needs at least {256 + SpecialTokens.Length + 1} tokens");
        }

        Directory.CreateDirectory(directory);
        var vocab = new List<string>(vocabSize);
        for (var b = 0; b < 256; b++)
        {
            vocab.Add(ByteLevel.ByteToChar[b].ToString());
        }

        var merges = LearnMerges(vocab, vocabSize - SpecialTokens.Length, extraCorpus.Length == 0 ? Corpus : Corpus + "\n" + extraCorpus);
        var vocabJson = new JsonObject();
        for (var i = 0; i < vocab.Count; i++)
        {
            vocabJson[vocab[i]] = i;
        }

        var added = new JsonArray();
        for (var i = 0; i < SpecialTokens.Length; i++)
        {
            added.Add(new JsonObject
            {
                ["id"] = vocabSize - SpecialTokens.Length + i,
                ["content"] = SpecialTokens[i],
                ["single_word"] = false,
                ["lstrip"] = false,
                ["rstrip"] = false,
                ["normalized"] = false,
                ["special"] = true,
            });
        }

        var byteLevel = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false };
        var tokenizer = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = SplitPattern }, ["behavior"] = "Isolated", ["invert"] = false },
                    byteLevel.DeepClone()),
            },
            ["post_processor"] = byteLevel.DeepClone(),
            ["decoder"] = byteLevel.DeepClone(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["ignore_merges"] = false,
                ["vocab"] = vocabJson,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray()),
            },
        };
        var config = new JsonObject
        {
            ["add_bos_token"] = false,
            ["bos_token"] = SpecialTokens[0],
            ["eos_token"] = SpecialTokens[4],
            ["clean_up_tokenization_spaces"] = false,
            ["model_max_length"] = 1_000_000,
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["chat_template"] = ChatTemplate,
        };
        var options = new JsonSerializerOptions { WriteIndented = false };
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), tokenizer.ToJsonString(options));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Classic BPE training: repeatedly merge the most frequent adjacent pair (ties: first seen).</summary>
    private static List<(string Left, string Right)> LearnMerges(List<string> vocab, int targetSize, string corpus)
    {
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (Match m in Regex.Matches(corpus, SplitPattern))
        {
            var word = ByteLevel.Encode(m.Value);
            words[word] = words.GetValueOrDefault(word) + 1;
        }

        var split = words.Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), Count: w.Value)).ToList();
        var merges = new List<(string, string)>();
        var known = new HashSet<string>(vocab, StringComparer.Ordinal);
        while (vocab.Count < targetSize)
        {
            var counts = new Dictionary<(string, string), int>();
            var order = new List<(string, string)>();
            foreach (var (symbols, count) in split)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    if (!counts.TryGetValue(pair, out var c))
                    {
                        order.Add(pair);
                    }

                    counts[pair] = c + count;
                }
            }

            var best = order.Where(p => !known.Contains(p.Item1 + p.Item2)).OrderByDescending(p => counts[p]).FirstOrDefault();
            if (best == default)
            {
                break;
            }

            merges.Add(best);
            var merged = best.Item1 + best.Item2;
            vocab.Add(merged);
            known.Add(merged);
            foreach (var (symbols, _) in split)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        // A small corpus runs out of pairs long before a large vocabulary is full: fill the rest with
        // merges of two byte tokens, so every id below the special tokens exists.
        for (var a = 0; vocab.Count < targetSize && a < 256; a++)
        {
            for (var b = 0; vocab.Count < targetSize && b < 256; b++)
            {
                var (left, right) = (ByteLevel.ByteToChar[a].ToString(), ByteLevel.ByteToChar[b].ToString());
                if (known.Add(left + right))
                {
                    merges.Add((left, right));
                    vocab.Add(left + right);
                }
            }
        }

        if (vocab.Count < targetSize)
        {
            throw new ArgumentOutOfRangeException(nameof(targetSize), $"the synthetic tokenizer supports at most {vocab.Count + SpecialTokens.Length} tokens");
        }

        return merges;
    }
}
