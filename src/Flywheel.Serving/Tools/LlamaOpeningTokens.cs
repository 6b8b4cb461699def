using System.Text;
using Flywheel.Structured;

namespace Flywheel.Serving.Tools;

/// <summary>What a token does at the opening of a Llama-3 answer (<see cref="LlamaCallTrigger"/>).</summary>
internal enum LlamaTokenKind
{
    Text,           // the answer is text
    Whitespace,     // nothing yet (leading whitespace)
    Brace,          // begins with '{': may open a call
    TagPart,        // more of the python tag, not yet all of it
    TagEnd,         // ends the python tag exactly
    Overshoot,      // ends the python tag and runs on (never allowed)
}

/// <summary>
/// How each token of a vocabulary opens a Llama-3 answer (before any byte of it), and the tokens that may separate
/// parallel calls. Built once per vocabulary (O(vocabulary bytes)); immutable and thread-safe.
/// </summary>
internal sealed class LlamaOpeningTokens
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TokenVocabulary, LlamaOpeningTokens> Tables = new();
    private static readonly byte[] Tag = Encoding.UTF8.GetBytes(ToolCallParser.PythonTag);
    private static readonly System.Buffers.SearchValues<byte> Space = System.Buffers.SearchValues.Create(" \n\t\r"u8);

    private LlamaOpeningTokens(TokenVocabulary vocabulary)
    {
        (Text, Whitespace, TagPart, TagEnd, Separator) = (New(), New(), New(), New(), New());
        uint[] New() => new uint[vocabulary.MaskLength];
        for (var token = 0; token < vocabulary.Count; token++)
        {
            var bytes = vocabulary.BytesOf(token);
            var set = Classify(bytes, 0, out _) switch
            {
                LlamaTokenKind.Text => Text,
                LlamaTokenKind.Whitespace => Whitespace,
                LlamaTokenKind.TagPart => TagPart,
                LlamaTokenKind.TagEnd => TagEnd,
                _ => null, // a brace is allowed only where the grammar allows it; an overshoot never
            };
            if (set is not null)
            {
                set[token >> 5] |= 1u << (token & 31);
            }

            var semicolon = bytes.IndexOf((byte)';');
            if (semicolon >= 0 && bytes.LastIndexOf((byte)';') == semicolon && !bytes[..semicolon].ContainsAnyExcept(Space) && !bytes[(semicolon + 1)..].ContainsAnyExcept(Space))
            {
                Separator[token >> 5] |= 1u << (token & 31);
            }
        }
    }

    public uint[] Text { get; }

    public uint[] Whitespace { get; }

    public uint[] TagPart { get; }

    public uint[] TagEnd { get; }

    /// <summary>Tokens made of one <c>;</c> with optional whitespace around it.</summary>
    public uint[] Separator { get; }

    public static LlamaOpeningTokens For(TokenVocabulary vocabulary) => Tables.GetValue(vocabulary, static v => new LlamaOpeningTokens(v));

    /// <summary>What <paramref name="bytes"/> do after <paramref name="tagMatched"/> bytes of the python tag; <paramref name="tagBytes"/> is how many tag bytes they add.</summary>
    public static LlamaTokenKind Classify(ReadOnlySpan<byte> bytes, int tagMatched, out int tagBytes)
    {
        tagBytes = 0;
        if (bytes.Length == 0)
        {
            return LlamaTokenKind.Text; // special tokens and end-of-sequence: no call
        }

        var rest = bytes;
        if (tagMatched == 0)
        {
            rest = bytes.TrimStart(" \n\t\r"u8);
            if (rest.Length == 0)
            {
                return LlamaTokenKind.Whitespace;
            }

            if (rest[0] == (byte)'{')
            {
                return LlamaTokenKind.Brace;
            }
        }

        var tail = Tag.AsSpan(tagMatched);
        if (tail.StartsWith(rest))
        {
            tagBytes = rest.Length;
            return rest.Length == tail.Length ? LlamaTokenKind.TagEnd : LlamaTokenKind.TagPart;
        }

        return rest.StartsWith(tail) ? LlamaTokenKind.Overshoot : LlamaTokenKind.Text;
    }
}
