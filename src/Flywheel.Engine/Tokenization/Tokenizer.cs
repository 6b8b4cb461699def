using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Flywheel.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json tokenizer: BPE models, byte-level (GPT-2, Llama-3, Qwen) or
/// SentencePiece-style (metaspace / prepend+replace normalizers, byte fallback), with added and special
/// tokens. Immutable after <see cref="Load"/> and safe to use from several threads.
/// </summary>
public sealed class Tokenizer
{
    private readonly BpeModel _model;
    private readonly Normalizer? _normalizer;
    private readonly List<PreTokenizerStep> _preTokenizer;
    private readonly string?[] _idToToken;
    private readonly byte[]?[] _tokenBytes;
    private readonly bool[] _special;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Regex? _addedTokenSplitter;
    private readonly Dictionary<string, AddedToken> _addedTokens;
    private readonly PostProcessor _postProcessor;

    private Tokenizer(TokenizerDefinition p)
    {
        (_model, _normalizer, _preTokenizer, _postProcessor) = (p.Model, p.Normalizer, p.PreTokenizer, p.PostProcessor);
        _addedTokens = p.AddedTokens.ToDictionary(a => a.Content, StringComparer.Ordinal);
        _tokenToId = new Dictionary<string, int>(p.Model.Vocab, StringComparer.Ordinal);
        foreach (var a in p.AddedTokens)
        {
            _tokenToId[a.Content] = a.Id;
        }

        VocabSize = _tokenToId.Values.DefaultIfEmpty(-1).Max() + 1;
        _idToToken = new string?[VocabSize];
        foreach (var (token, id) in _tokenToId)
        {
            _idToToken[id] = token;
        }

        _special = new bool[VocabSize];
        _tokenBytes = new byte[]?[VocabSize];
        foreach (var a in p.AddedTokens)
        {
            _special[a.Id] = a.Special;
        }

        // Added tokens go through the decoder like the others (as Hugging Face decodes them): Gemma's
        // whitespace-run tokens "▁▁▁" are spaces, and byte-level tokens map back to their bytes.
        for (var id = 0; id < VocabSize; id++)
        {
            _tokenBytes[id] = _idToToken[id] is { } t ? p.Decoder.TokenBytes(t) : [];
        }

        StripsLeadingSpace = p.Decoder.StripsLeadingSpace;
        if (p.AddedTokens.Count > 0)
        {
            var alternatives = p.AddedTokens.OrderByDescending(a => a.Content.Length).Select(a => Regex.Escape(a.Content));
            _addedTokenSplitter = new Regex(string.Join("|", alternatives), RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }

        BosToken = p.Config.BosToken;
        EosToken = p.Config.EosToken;
        ChatTemplate = p.Config.ChatTemplate;
        BosTokenId = BosToken is not null && _tokenToId.TryGetValue(BosToken, out var bos) ? bos : null;
        EosTokenIds = EosToken is not null && _tokenToId.TryGetValue(EosToken, out var eos) ? [eos] : [];
    }

    /// <summary>Largest token id + 1, added tokens included.</summary>
    public int VocabSize { get; }

    public string? BosToken { get; }

    public string? EosToken { get; }

    public int? BosTokenId { get; }

    /// <summary>End-of-sequence ids named by tokenizer_config.json (empty when it names none).</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The chat template from tokenizer_config.json (the default one when it lists several), or null.</summary>
    public string? ChatTemplate { get; }

    /// <summary>Decoding drops the single leading space a SentencePiece-style tokenizer adds at the start.</summary>
    internal bool StripsLeadingSpace { get; }

    /// <summary>Reads <paramref name="tokenizerJsonPath"/> and the tokenizer_config.json beside it, if any.</summary>
    public static Tokenizer Load(string tokenizerJsonPath) => new(TokenizerDefinition.Load(tokenizerJsonPath));

    /// <summary>Token ids of <paramref name="text"/>; added/special tokens written in the text are recognised.</summary>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        var pieces = new List<string>();
        var start = 0;
        var stripNextLeading = false;
        if (_addedTokenSplitter is not null)
        {
            foreach (var m in _addedTokenSplitter.EnumerateMatches(text))
            {
                var token = _addedTokens[text.Substring(m.Index, m.Length)];
                var before = text[start..m.Index];
                if (stripNextLeading)
                {
                    before = before.TrimStart();
                }

                EncodeText(token.LStrip ? before.TrimEnd() : before, atTextStart: start == 0, ids, pieces);
                ids.Add(token.Id);
                stripNextLeading = token.RStrip;
                start = m.Index + m.Length;
            }
        }

        var rest = text[start..];
        EncodeText(stripNextLeading ? rest.TrimStart() : rest, atTextStart: start == 0, ids, pieces);
        return addSpecialTokens ? _postProcessor.Apply(ids) : ids.ToArray();
    }

    /// <summary>
    /// A completion prompt's ids: <see cref="Encode"/> with special tokens, plus the BOS token in front when the
    /// tokenizer names one and its post-processor did not add it (Llama-3's tokenizer.json, for one, does not).
    /// </summary>
    public int[] EncodePrompt(string text)
    {
        var ids = Encode(text, addSpecialTokens: true);
        return BosTokenId is { } bos && (ids.Length == 0 || ids[0] != bos) ? [bos, .. ids] : ids;
    }

    private void EncodeText(string text, bool atTextStart, List<int> ids, List<string> pieces)
    {
        if (text.Length == 0)
        {
            return;
        }

        if (_normalizer is not null)
        {
            text = _normalizer(text);
        }

        pieces.Clear();
        pieces.Add(text);
        foreach (var step in _preTokenizer)
        {
            step(pieces, atTextStart);
        }

        foreach (var piece in pieces)
        {
            if (piece.Length > 0)
            {
                _model.Encode(piece, ids);
            }
        }
    }

    /// <summary>The text of <paramref name="ids"/> (invalid UTF-8 becomes U+FFFD).</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (var id in ids)
        {
            if (skipSpecialTokens && IsSpecial(id))
            {
                continue;
            }

            bytes.AddRange(GetTokenBytes(id));
        }

        var text = Encoding.UTF8.GetString(bytes.ToArray());
        return StripsLeadingSpace && text.StartsWith(' ') ? text[1..] : text;
    }

    /// <summary>The exact bytes token <paramref name="id"/> adds to decoded text (for added tokens, their content).</summary>
    public byte[] GetTokenBytes(int id) =>
        (uint)id < (uint)VocabSize ? _tokenBytes[id]! : throw new ArgumentOutOfRangeException(nameof(id), $"token id {id} is outside the vocabulary (size {VocabSize})");

    public bool IsSpecial(int id) => (uint)id < (uint)VocabSize && _special[id];

    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out var id) ? id : null;

    public string? IdToToken(int id) => (uint)id < (uint)VocabSize ? _idToToken[id] : null;

    /// <summary>An incremental decoder for one stream of generated tokens.</summary>
    public TokenStreamDecoder CreateStreamDecoder(bool skipSpecialTokens = true) => new(this, skipSpecialTokens);
}
