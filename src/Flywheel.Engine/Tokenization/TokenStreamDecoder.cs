using System.Text;

namespace Flywheel.Tokenization;

/// <summary>
/// Turns generated token ids into text as they arrive. Returns only whole UTF-8 characters: the bytes of a
/// character split across tokens are held back until it completes. One per generation stream; not thread-safe.
/// </summary>
public sealed class TokenStreamDecoder
{
    private readonly Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private char[] _chars = new char[64];
    private bool _atStart = true;

    internal TokenStreamDecoder(Tokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>The text completed by <paramref name="tokenId"/> (may be empty).</summary>
    public string Append(int tokenId)
    {
        if (_skipSpecialTokens && _tokenizer.IsSpecial(tokenId))
        {
            return "";
        }

        return Convert(_tokenizer.GetTokenBytes(tokenId), flush: false);
    }

    /// <summary>Whatever is held back (an unfinished character becomes U+FFFD).</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(byte[] bytes, bool flush)
    {
        var needed = _utf8.GetCharCount(bytes, flush);
        if (needed > _chars.Length)
        {
            _chars = new char[Math.Max(needed, _chars.Length * 2)];
        }

        var count = _utf8.GetChars(bytes, 0, bytes.Length, _chars, 0, flush);
        var start = 0;
        if (_atStart && count > 0)
        {
            _atStart = false;
            if (_tokenizer.StripsLeadingSpace && _chars[0] == ' ')
            {
                start = 1;
            }
        }

        return count - start == 0 ? "" : new string(_chars, start, count - start);
    }
}
