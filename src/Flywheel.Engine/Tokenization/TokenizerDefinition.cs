using System.Text;
using System.Text.Json;

namespace Flywheel.Tokenization;

internal sealed record AddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip);

/// <summary>The pieces of a tokenizer read from tokenizer.json and tokenizer_config.json.</summary>
internal sealed record TokenizerDefinition(
    BpeModel Model,
    Normalizer? Normalizer,
    List<PreTokenizerStep> PreTokenizer,
    List<AddedToken> AddedTokens,
    PostProcessor PostProcessor,
    TokenDecoder Decoder,
    TokenizerConfig Config)
{
    public static TokenizerDefinition Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"tokenizer file not found: {path}", path);
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{path}: 'model' is missing.");
        }

        var type = model.TryGetProperty("type", out var t) ? t.GetString() : "BPE";
        if (type != "BPE")
        {
            throw new NotSupportedException($"{path}: model.type '{type}' is not supported (only BPE).");
        }

        if (model.TryGetProperty("continuing_subword_prefix", out var csp) && csp.ValueKind == JsonValueKind.String && csp.GetString()!.Length > 0)
        {
            throw new NotSupportedException($"{path}: model.continuing_subword_prefix is not supported.");
        }

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!model.TryGetProperty("vocab", out var v) || v.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException($"{path}: model.vocab must be an object of token -> id.");
        }

        foreach (var p in v.EnumerateObject())
        {
            vocab[p.Name] = p.Value.GetInt32();
        }

        var merges = new Dictionary<(int, int), (int, int)>();
        if (model.TryGetProperty("merges", out var m))
        {
            var rank = 0;
            foreach (var merge in m.EnumerateArray())
            {
                string left, right;
                if (merge.ValueKind == JsonValueKind.Array)
                {
                    (left, right) = (merge[0].GetString()!, merge[1].GetString()!);
                }
                else
                {
                    var s = merge.GetString()!;
                    var space = s.IndexOf(' ', 1);
                    (left, right) = (s[..space], s[(space + 1)..]);
                }

                if (vocab.TryGetValue(left, out var l) && vocab.TryGetValue(right, out var r) && vocab.TryGetValue(left + right, out var merged))
                {
                    merges.TryAdd((l, r), (rank, merged));
                }

                rank++;
            }
        }

        var ignoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True;
        var byteFallback = model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
        int? unk = model.TryGetProperty("unk_token", out var u) && u.ValueKind == JsonValueKind.String && vocab.TryGetValue(u.GetString()!, out var unkId) ? unkId : null;

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var at) && at.ValueKind == JsonValueKind.Array)
        {
            foreach (var a in at.EnumerateArray())
            {
                added.Add(new AddedToken(
                    a.GetProperty("id").GetInt32(),
                    a.GetProperty("content").GetString()!,
                    a.TryGetProperty("special", out var sp) && sp.GetBoolean(),
                    a.TryGetProperty("lstrip", out var ls) && ls.GetBoolean(),
                    a.TryGetProperty("rstrip", out var rs) && rs.GetBoolean()));
            }
        }

        var normalizer = root.TryGetProperty("normalizer", out var n) ? Normalizers.Build(n, "normalizer") : null;
        var (steps, byteLevel, metaspace) = root.TryGetProperty("pre_tokenizer", out var pt)
            ? PreTokenizers.Build(pt, "pre_tokenizer")
            : ([], false, null);
        var decoder = TokenDecoder.Build(root.TryGetProperty("decoder", out var d) ? d : default, byteLevel, metaspace, byteFallback);
        var post = PostProcessor.Build(root.TryGetProperty("post_processor", out var pp) ? pp : default, vocab, added);
        return new TokenizerDefinition(new BpeModel(vocab, merges, ignoreMerges, byteFallback, unk), normalizer, steps, added, post, decoder, TokenizerConfig.Load(path));
    }
}

/// <summary>The settings tokenizer_config.json adds: special token strings and the chat template.</summary>
internal sealed record TokenizerConfig(string? BosToken, string? EosToken, string? ChatTemplate)
{
    public static TokenizerConfig Load(string tokenizerJsonPath)
    {
        var path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
        if (!File.Exists(path))
        {
            return new TokenizerConfig(null, null, null);
        }

        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        string? template = null;
        if (root.TryGetProperty("chat_template", out var ct))
        {
            // A string, or a list of {name, template} where "default" is the one used.
            template = ct.ValueKind == JsonValueKind.String ? ct.GetString()
                : ct.ValueKind == JsonValueKind.Array ? ct.EnumerateArray().Where(e => e.GetProperty("name").GetString() == "default").Select(e => e.GetProperty("template").GetString()).FirstOrDefault()
                : null;
        }

        return new TokenizerConfig(TokenString(root, "bos_token"), TokenString(root, "eos_token"), template);
    }

    private static string? TokenString(JsonElement root, string field) =>
        !root.TryGetProperty(field, out var v) ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString()
        : v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) ? c.GetString()
        : null;
}

/// <summary>How token strings turn back into bytes.</summary>
internal sealed class TokenDecoder
{
    private readonly bool _byteLevel;
    private readonly bool _byteFallback;
    private readonly List<(string From, string To)> _replacements = [];

    private TokenDecoder(bool byteLevel, bool byteFallback)
    {
        _byteLevel = byteLevel;
        _byteFallback = byteFallback;
    }

    public bool StripsLeadingSpace { get; private set; }

    public static TokenDecoder Build(JsonElement decoder, bool byteLevelPreTokenizer, MetaspaceInfo? metaspace, bool byteFallback)
    {
        var result = new TokenDecoder(byteLevelPreTokenizer || Contains(decoder, "ByteLevel"), byteFallback);
        if (metaspace is not null)
        {
            result._replacements.Add((metaspace.Replacement, " "));
            result.StripsLeadingSpace = metaspace.StripsLeadingSpace;
        }

        Visit(decoder, result);
        return result;
    }

    private static bool Contains(JsonElement e, string type) =>
        e.ValueKind == JsonValueKind.Object && (e.TryGetProperty("type", out var t) && t.GetString() == type
            || (e.TryGetProperty("decoders", out var ds) && ds.EnumerateArray().Any(x => Contains(x, type))));

    private static void Visit(JsonElement e, TokenDecoder d)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        switch (e.GetProperty("type").GetString())
        {
            case "Sequence":
                foreach (var x in e.GetProperty("decoders").EnumerateArray())
                {
                    Visit(x, d);
                }

                break;
            case "Replace" when e.GetProperty("pattern").TryGetProperty("String", out var from):
                d._replacements.Add((from.GetString()!, e.GetProperty("content").GetString()!));
                break;
            case "Strip":
                // Only SentencePiece's form, one leading space: other counts or a stripped end would change
                // text that streams token by token, so they are refused rather than approximated.
                var start = e.TryGetProperty("start", out var s) ? s.GetInt32() : 0;
                var stop = e.TryGetProperty("stop", out var st) ? st.GetInt32() : 0;
                var content = e.TryGetProperty("content", out var c) ? c.GetString() : " ";
                if (start > 1 || stop > 0 || content != " ")
                {
                    throw new NotSupportedException($"tokenizer.json: decoder Strip (content '{content}', start {start}, stop {stop}) is not supported.");
                }

                d.StripsLeadingSpace |= start > 0;
                break;
            case "Metaspace":
                d._replacements.Add((e.TryGetProperty("replacement", out var r) ? r.GetString()! : "▁", " "));
                var scheme = e.TryGetProperty("prepend_scheme", out var ps) ? ps.GetString() : (e.TryGetProperty("add_prefix_space", out var ap) && ap.GetBoolean() ? "always" : "never");
                d.StripsLeadingSpace |= scheme != "never";
                break;
            case "ByteLevel" or "ByteFallback" or "Fuse":
                // Per-token byte mapping (see TokenBytes); Fuse only joins tokens, which decoding bytes does anyway.
                break;
            case var other:
                throw new NotSupportedException($"tokenizer.json: decoder type '{other}' is not supported.");
        }
    }

    public byte[] TokenBytes(string token)
    {
        if (_byteLevel)
        {
            return ByteLevel.Decode(token) ?? Encoding.UTF8.GetBytes(token);
        }

        if (_byteFallback && token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var b))
        {
            return [b];
        }

        foreach (var (from, to) in _replacements)
        {
            token = token.Replace(from, to, StringComparison.Ordinal);
        }

        return Encoding.UTF8.GetBytes(token);
    }
}

/// <summary>What add_special_tokens adds: TemplateProcessing's single-sequence template (others add nothing).</summary>
internal sealed class PostProcessor
{
    private readonly List<int[]?> _template = []; // null = the sequence itself

    public static PostProcessor Build(JsonElement p, Dictionary<string, int> vocab, List<AddedToken> added)
    {
        var result = new PostProcessor();
        Visit(p);
        if (result._template.Count == 0)
        {
            result._template.Add(null);
        }

        return result;

        void Visit(JsonElement e)
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                return;
            }

            var type = e.GetProperty("type").GetString();
            if (type == "Sequence")
            {
                foreach (var x in e.GetProperty("processors").EnumerateArray())
                {
                    Visit(x);
                }
            }
            else if (type == "TemplateProcessing")
            {
                var specials = e.GetProperty("special_tokens");
                foreach (var item in e.GetProperty("single").EnumerateArray())
                {
                    if (item.TryGetProperty("SpecialToken", out var st))
                    {
                        var id = st.GetProperty("id").GetString()!;
                        result._template.Add(specials.GetProperty(id).GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray());
                    }
                    else
                    {
                        result._template.Add(null);
                    }
                }
            }
        }
    }

    public int[] Apply(List<int> ids)
    {
        var result = new List<int>(ids.Count + 4);
        foreach (var part in _template)
        {
            result.AddRange(part ?? (IEnumerable<int>)ids);
        }

        return result.ToArray();
    }
}
