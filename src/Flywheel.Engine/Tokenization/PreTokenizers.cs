using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Flywheel.Tokenization;

/// <summary>
/// A tokenizer.json pre-tokenizer step: splits each piece further (and may rewrite it). The pieces come from
/// one stretch of text between added tokens; <paramref name="atTextStart"/> says whether it starts the text.
/// </summary>
internal delegate void PreTokenizerStep(List<string> pieces, bool atTextStart);

/// <summary>Builds pre-tokenizers from tokenizer.json; unknown kinds are refused by JSON path.</summary>
internal static class PreTokenizers
{
    /// <summary>GPT-2's split pattern, used by ByteLevel when use_regex is true.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Returns the steps and whether the pipeline ends in byte-level characters.</summary>
    public static (List<PreTokenizerStep> Steps, bool ByteLevel, MetaspaceInfo? Metaspace) Build(JsonElement p, string path)
    {
        var steps = new List<PreTokenizerStep>();
        var byteLevel = false;
        MetaspaceInfo? metaspace = null;
        Add(p, path);
        return (steps, byteLevel, metaspace);

        void Add(JsonElement e, string at)
        {
            if (e.ValueKind == JsonValueKind.Null)
            {
                return;
            }

            var type = TypeOf(e, at);
            switch (type)
            {
                case "Sequence":
                    var i = 0;
                    foreach (var s in e.GetProperty("pretokenizers").EnumerateArray())
                    {
                        Add(s, $"{at}.pretokenizers[{i++}]");
                    }

                    break;
                case "Split":
                    var pattern = SplitPattern(e, at);
                    var behavior = PieceSplitter.ParseBehavior(e.GetProperty("behavior").GetString(), at);
                    var invert = e.TryGetProperty("invert", out var inv) && inv.GetBoolean();
                    steps.Add((pieces, _) => PieceSplitter.SplitAll(pieces, pattern, behavior, invert));
                    break;
                case "ByteLevel":
                    var prefix = e.TryGetProperty("add_prefix_space", out var aps) && aps.GetBoolean();
                    var useRegex = !e.TryGetProperty("use_regex", out var ur) || ur.GetBoolean();
                    var gpt2 = new CodePointRegex(Gpt2Pattern);
                    steps.Add((pieces, _) =>
                    {
                        if (prefix && pieces.Count > 0 && !pieces[0].StartsWith(' '))
                        {
                            pieces[0] = " " + pieces[0];
                        }

                        if (useRegex)
                        {
                            PieceSplitter.SplitAll(pieces, gpt2, SplitBehavior.Isolated);
                        }

                        for (var k = 0; k < pieces.Count; k++)
                        {
                            pieces[k] = ByteLevel.Encode(pieces[k]);
                        }
                    });
                    byteLevel = true;
                    break;
                case "Metaspace":
                    var replacement = e.TryGetProperty("replacement", out var r) ? r.GetString()! : "▁";
                    var scheme = e.TryGetProperty("prepend_scheme", out var ps) ? ps.GetString()!
                        : e.TryGetProperty("add_prefix_space", out var ap) && ap.GetBoolean() ? "always" : "never";
                    if (scheme is not ("always" or "first" or "never"))
                    {
                        throw new NotSupportedException($"tokenizer.json: {at}.prepend_scheme '{scheme}' is not supported.");
                    }

                    var split = !e.TryGetProperty("split", out var sp) || sp.GetBoolean();
                    metaspace = new MetaspaceInfo(replacement, scheme != "never");
                    steps.Add((pieces, atTextStart) => ApplyMetaspace(pieces, replacement, everyPiece: scheme == "always", firstPiece: scheme == "first" && atTextStart, split));
                    break;
                case "Digits":
                    // Hugging Face splits at numeric characters (Nd, Nl, No): one by one, or runs of them.
                    var individual = e.TryGetProperty("individual_digits", out var id) && id.GetBoolean();
                    var digits = new CodePointRegex(@"\p{N}");
                    steps.Add((pieces, _) => PieceSplitter.SplitAll(pieces, digits, individual ? SplitBehavior.Isolated : SplitBehavior.Contiguous));
                    break;
                case "WhitespaceSplit":
                    var ws = new CodePointRegex(@"\s+");
                    steps.Add((pieces, _) => PieceSplitter.SplitAll(pieces, ws, SplitBehavior.Removed));
                    break;
                case "Whitespace":
                    // Words and runs of other non-space characters; the spaces between them are dropped.
                    var words = new CodePointRegex(@"\w+|[^\w\s]+");
                    steps.Add((pieces, _) => PieceSplitter.SplitAll(pieces, words, SplitBehavior.Removed, invert: true));
                    break;
                case "Punctuation":
                    var punctuation = new CodePointRegex(@"[\p{P}!-/:-@\[-`{-~]");
                    var punctuationBehavior = e.TryGetProperty("behavior", out var pb) ? PieceSplitter.ParseBehavior(pb.GetString(), at) : SplitBehavior.Isolated;
                    steps.Add((pieces, _) => PieceSplitter.SplitAll(pieces, punctuation, punctuationBehavior));
                    break;
                default:
                    throw new NotSupportedException($"tokenizer.json: {at}.type '{type}' is not supported.");
            }
        }
    }

    private static void ApplyMetaspace(List<string> pieces, string replacement, bool everyPiece, bool firstPiece, bool split)
    {
        for (var i = 0; i < pieces.Count; i++)
        {
            var text = pieces[i].Replace(" ", replacement, StringComparison.Ordinal);
            // "always" marks every piece; "first" only the first piece of the text (not text after an added token).
            if ((everyPiece || (firstPiece && i == 0)) && !text.StartsWith(replacement, StringComparison.Ordinal))
            {
                text = replacement + text;
            }

            pieces[i] = text;
        }

        if (split)
        {
            // Split before each replacement character, keeping it with the word that follows.
            var result = new List<string>();
            foreach (var piece in pieces)
            {
                var start = 0;
                for (var k = 1; k < piece.Length; k++)
                {
                    if (string.CompareOrdinal(piece, k, replacement, 0, replacement.Length) == 0)
                    {
                        result.Add(piece[start..k]);
                        start = k;
                    }
                }

                result.Add(piece[start..]);
            }

            pieces.Clear();
            pieces.AddRange(result);
        }
    }

    private static CodePointRegex SplitPattern(JsonElement e, string at)
    {
        var pattern = e.GetProperty("pattern");
        if (pattern.TryGetProperty("Regex", out var rx))
        {
            return new CodePointRegex(rx.GetString()!);
        }

        if (pattern.TryGetProperty("String", out var s))
        {
            return new CodePointRegex(Regex.Escape(s.GetString()!));
        }

        throw new NotSupportedException($"tokenizer.json: {at}.pattern must hold Regex or String.");
    }

    internal static string TypeOf(JsonElement e, string path) =>
        e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
            : throw new NotSupportedException($"tokenizer.json: {path}.type is missing.");
}

/// <summary>How a SentencePiece-style tokenizer marks spaces: decode turns the marker back into spaces and drops the first one it added.</summary>
internal sealed record MetaspaceInfo(string Replacement, bool StripsLeadingSpace);
