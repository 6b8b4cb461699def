using System.Text.Json;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>The suite runner's pieces: Python-style serialisation and the tokenizer vocabulary.</summary>
public sealed class GrammarSuiteTests
{
    [Theory]
    [InlineData("1", "1")]
    [InlineData("-0", "0")]
    [InlineData("123456789012345678901234567890", "123456789012345678901234567890")]
    [InlineData("1.0", "1.0")]
    [InlineData("-0.0", "-0.0")]
    [InlineData("2.6", "2.6")]
    [InlineData("1e2", "100.0")]
    [InlineData("0.0001", "0.0001")]
    [InlineData("0.00001", "1e-05")]
    [InlineData("2.5E-7", "2.5e-07")]
    [InlineData("1e15", "1000000000000000.0")]
    [InlineData("1e16", "1e+16")]
    [InlineData("1.5e300", "1.5e+300")]
    [InlineData("12345678.9", "12345678.9")]
    [InlineData("1e400", "Infinity")]
    public void Numbers_print_like_python(string json, string python) => Assert.Equal(python, PythonJsonWriter.Number(json));

    [Fact]
    public void Values_print_like_json_dumps_with_non_ascii_kept()
    {
        using var doc = JsonDocument.Parse("""{"a": [1, 2.0, {"b": null}], "c\"": "tab\t nl\n \u0001 é 日本 \u2028", "d": {}, "e": [], "f": true}""");
        Assert.Equal("{\"a\": [1, 2.0, {\"b\": null}], \"c\\\"\": \"tab\\t nl\\n \\u0001 é 日本 \u2028\", \"d\": {}, \"e\": [], \"f\": true}", PythonJsonWriter.Write(doc.RootElement));
    }

    [Fact]
    public void Tokenizer_vocabulary_pads_to_the_model_size_with_specials()
    {
        var dir = TestScratch.Path("vocab-" + Guid.NewGuid().ToString("N"));
        SyntheticTokenizer.Write(dir, 300);
        try
        {
            var tokenizer = Tokenizer.Load(Path.Combine(dir, "tokenizer.json"));
            var vocab = TokenVocabulary.FromTokenizer(tokenizer, tokenizer.EosTokenIds, tokenizer.VocabSize + 20);
            Assert.Equal(tokenizer.VocabSize + 20, vocab.Count);
            Assert.Equal(tokenizer.EosTokenIds, vocab.EosTokenIds);
            Assert.Equal("{"u8.ToArray(), vocab.BytesOf(tokenizer.Encode("{")[0]).ToArray());
            Assert.True(vocab.BytesOf(tokenizer.VocabSize + 19).IsEmpty);
            Assert.True(vocab.BytesOf(tokenizer.TokenToId("<|begin_of_text|>")!.Value).IsEmpty);
            Assert.Throws<ArgumentOutOfRangeException>(() => TokenVocabulary.FromTokenizer(tokenizer, [], tokenizer.VocabSize - 1));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
