using System.Globalization;
using System.Text.Json;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Tokenization;

/// <summary>
/// The pre-tokenizer components the families' tokenizer.json files use, on their own: every Split behavior
/// as Hugging Face documents it, inverted splits, and regex classes matched on code points (an astral
/// character is one character of its own category, never two surrogates).
/// </summary>
public sealed class PreTokenizerComponentTests
{
    // Hugging Face's documented example for SplitDelimiterBehavior: "the-final--countdown" split on "-".
    [Theory]
    [InlineData("Removed", new[] { "the", "final", "countdown" })]
    [InlineData("Isolated", new[] { "the", "-", "final", "-", "-", "countdown" })]
    [InlineData("MergedWithPrevious", new[] { "the-", "final-", "-", "countdown" })]
    [InlineData("MergedWithNext", new[] { "the", "-final", "-", "-countdown" })]
    [InlineData("Contiguous", new[] { "the", "-", "final", "--", "countdown" })]
    public void EverySplitBehaviorJoinsAsHuggingFaceDocumentsIt(string behavior, string[] expected)
    {
        List<string> pieces = ["the-final--countdown"];
        PieceSplitter.SplitAll(pieces, new CodePointRegex("-"), PieceSplitter.ParseBehavior(behavior, "behavior"));
        Assert.Equal(expected, pieces);
    }

    [Fact]
    public void AnInvertedSplitTreatsTheUnmatchedTextAsTheDelimiter()
    {
        List<string> pieces = ["ab12c345"];
        PieceSplitter.SplitAll(pieces, new CodePointRegex(@"\d+"), SplitBehavior.Removed, invert: true);
        Assert.Equal(["12", "345"], pieces);

        pieces = ["ab12c345"];
        PieceSplitter.SplitAll(pieces, new CodePointRegex(@"\d+"), SplitBehavior.MergedWithPrevious, invert: true);
        // The delimiters are now "ab" and "c": "ab" has no piece before it to join, "c" joins "12".
        Assert.Equal(["ab", "12c", "345"], pieces);
    }

    [Fact]
    public void CategoriesAreMatchedOnCodePoints()
    {
        // 😀 is one So character, 𝐀 one Lu, 𝟙 one Nd: as DeepSeek V3's "[\p{P}\p{S}]+" and "\p{N}{1,3}" see them.
        var symbols = new CodePointRegex(@" ?[\p{P}\p{S}]+");
        Assert.Equal([(1, 5)], symbols.Matches("a 😀😀b"));
        Assert.Equal([(0, 2), (2, 2)], new CodePointRegex(@"\p{Lu}").Matches("𝐀𝐁"));
        Assert.Equal([(0, 6), (6, 2)], new CodePointRegex(@"\p{N}{1,3}").Matches("𝟙𝟚𝟛𝟜"));
        Assert.Empty(new CodePointRegex(@"[^\p{L}\p{S}]").Matches("😀𝐀"));

        // A lone surrogate stays one code unit of category Cs, as before.
        Assert.Equal([(1, 1)], new CodePointRegex(@"\p{Cs}").Matches("a\uD800b"));
    }

    [Fact]
    public void EveryStandInHasItsCategory()
    {
        foreach (var category in Enum.GetValues<UnicodeCategory>())
        {
            var c = CodePointRegex.StandIn(category);
            Assert.True(c == '\u0378' || CharUnicodeInfo.GetUnicodeCategory(c) == category, $"{category}: U+{(int)c:X4}");
        }
    }

    [Theory]
    [InlineData("always", "<s>hi there", new[] { "▁hi", "▁there" })]
    [InlineData("first", "<s>hi there", new[] { "hi", "▁there" })]
    [InlineData("first", "hi there", new[] { "▁hi", "▁there" })]
    [InlineData("never", "hi there", new[] { "hi", "▁there" })]
    public void MetaspacePrependsAsItsSchemeSays(string scheme, string text, string[] expected)
    {
        var pre = JsonDocument.Parse($$"""{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "{{scheme}}", "split": true}""").RootElement;
        var (steps, _, _) = PreTokenizers.Build(pre, "pre_tokenizer");
        var atStart = !text.StartsWith("<s>", StringComparison.Ordinal);
        List<string> pieces = [atStart ? text : text[3..]];
        steps.Single()(pieces, atStart);
        Assert.Equal(expected, pieces);
    }

    [Fact]
    public void StripAndStripAccentsNormalizersWork()
    {
        var sequence = JsonDocument.Parse("""
            {"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "StripAccents"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": true, "strip_right": false}]}
            """).RootElement;
        var normalize = Normalizers.Build(sequence, "normalizer")!;
        Assert.Equal("cafe naive angstrom  ", normalize("  Café Naïve Ångström  "));
    }

    [Fact]
    public void UnknownDecodersAreRefused()
    {
        var dir = TestScratch.Path($"decoder-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "decoder": {"type": "Sequence", "decoders": [{"type": "WordPiece"}]}}""");
        Assert.Contains("decoder type 'WordPiece'", Assert.Throws<NotSupportedException>(() => Tokenizer.Load(path)).Message);
        File.WriteAllText(path, """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "decoder": {"type": "Strip", "content": " ", "start": 0, "stop": 1}}""");
        Assert.Contains("Strip", Assert.Throws<NotSupportedException>(() => Tokenizer.Load(path)).Message);
    }
}
