using System.Text.Json;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Tokenization;

/// <summary>
/// Our tokenizer gives the same ids as @huggingface/transformers (run with node) on the corpus, for the
/// real Llama-3 and Qwen3 tokenizer.json files, with and without special tokens.
/// </summary>
public sealed class TokenizerCrossCheckTests
{
    internal static (int[][] Plain, int[][] Special) Reference(string modelDir, string[] texts)
    {
        var textsPath = Path.Combine(Path.GetTempPath(), $"flywheel-texts-{Guid.NewGuid():N}.json");
        File.WriteAllText(textsPath, JsonSerializer.Serialize(texts));
        try
        {
            var script = Path.Combine(AppContext.BaseDirectory, "Tokenization", "encode-reference.mjs");
            var (exit, stdout, stderr) = TestAssets.Run("node", [script, TestAssets.NodeModules, modelDir, textsPath], TimeSpan.FromMinutes(3));
            Assert.True(exit == 0, $"node reference tokenizer failed ({exit}): {stderr}");
            using var doc = JsonDocument.Parse(stdout);
            int[][] Read(string name) => doc.RootElement.GetProperty(name).EnumerateArray().Select(a => a.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
            return (Read("plain"), Read("special"));
        }
        finally
        {
            File.Delete(textsPath);
        }
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void IdsMatchTheReferenceImplementation(string name)
    {
        var dir = TestAssets.TokenizerModelDir(name);
        var tokenizer = Tokenizer.Load(Path.Combine(dir, "tokenizer.json"));
        var (plain, special) = Reference(dir, TokenizerCorpus.Texts);
        for (var i = 0; i < TokenizerCorpus.Texts.Length; i++)
        {
            var text = TokenizerCorpus.Texts[i];
            Assert.True(plain[i].SequenceEqual(tokenizer.Encode(text)), $"text {i} {JsonSerializer.Serialize(text)}: expected [{string.Join(",", plain[i])}] got [{string.Join(",", tokenizer.Encode(text))}]");
            Assert.True(special[i].SequenceEqual(tokenizer.Encode(text, addSpecialTokens: true)), $"text {i} with special tokens");
        }
    }

    [Theory]
    [InlineData("llama3")]
    [InlineData("qwen3")]
    public void DecodeRoundTripsAndStreamsWholeCharacters(string name)
    {
        var tokenizer = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir(name), "tokenizer.json"));
        foreach (var text in TokenizerCorpus.Texts)
        {
            var ids = tokenizer.Encode(text);
            var normalized = name == "qwen3" ? text.Normalize(System.Text.NormalizationForm.FormC) : text;
            Assert.Equal(normalized, tokenizer.Decode(ids));

            var stream = tokenizer.CreateStreamDecoder(skipSpecialTokens: false);
            var pieces = ids.Select(stream.Append).Append(stream.Flush()).ToList();
            Assert.Equal(normalized, string.Concat(pieces));
            Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        }
    }

    [Fact]
    public void ConfigAndSpecialTokensAreExposed()
    {
        var llama = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir("llama3"), "tokenizer.json"));
        Assert.Equal(128256, llama.VocabSize);
        Assert.Equal(128000, llama.BosTokenId);
        Assert.Equal([128001], llama.EosTokenIds);
        Assert.True(llama.IsSpecial(128009));
        Assert.False(llama.IsSpecial(1000));
        Assert.Contains("start_header_id", llama.ChatTemplate);
        Assert.Equal("<|eot_id|>", llama.IdToToken(128009));
        Assert.Equal(" world"u8.ToArray(), llama.GetTokenBytes(llama.Encode(" world").Single()));
        Assert.Equal("<|eot_id|>", llama.Decode([128009]));
        Assert.Equal("", llama.Decode([128009], skipSpecialTokens: true));

        var qwen = Tokenizer.Load(Path.Combine(TestAssets.TokenizerModelDir("qwen3"), "tokenizer.json"));
        Assert.Null(qwen.BosTokenId);
        Assert.Equal([qwen.TokenToId("<|im_end|>")!.Value], qwen.EosTokenIds);
    }
}
