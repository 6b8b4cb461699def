using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Flywheel.Tokenization;

/// <summary>A tokenizer.json pre-tokenizer step: splits each piece further (and may rewrite it).</summary>
internal delegate void PreTokenizerStep(List<string> pieces);

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
                    var regex = SplitPattern(e, at);
                    var behavior = e.GetProperty("behavior").GetString();
                    var invert = e.TryGetProperty("invert", out var inv) && inv.GetBoolean();
                    if (invert || behavior is not ("Isolated" or "Removed"))
                    {
                        throw new NotSupportedException($"tokenizer.json: {at}: Split with behavior '{behavior}' (invert {invert}) is not supported.");
                    }

                    steps.Add(pieces => SplitAll(pieces, regex, keepMatches: behavior == "Isolated"));
                    break;
                case "ByteLevel":
                    var prefix = e.TryGetProperty("add_prefix_space", out var aps) && aps.GetBoolean();
                    var useRegex = !e.TryGetProperty("use_regex", out var ur) || ur.GetBoolean();
                    var gpt2 = new Regex(Gpt2Pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
                    steps.Add(pieces =>
                    {
                        if (prefix && pieces.Count > 0 && !pieces[0].StartsWith(' '))
                        {
                            pieces[0] = " " + pieces[0];
                        }

                        if (useRegex)
                        {
                            SplitAll(pieces, gpt2, keepMatches: true);
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
                    var split = !e.TryGetProperty("split", out var sp) || sp.GetBoolean();
                    metaspace = new MetaspaceInfo(replacement, scheme != "never");
                    steps.Add(pieces => ApplyMetaspace(pieces, replacement, scheme, split));
                    break;
                case "Digits":
                    var individual = e.TryGetProperty("individual_digits", out var id) && id.GetBoolean();
                    var digits = new Regex(individual ? @"\p{Nd}" : @"\p{Nd}+", RegexOptions.Compiled);
                    steps.Add(pieces => SplitAll(pieces, digits, keepMatches: true));
                    break;
                case "WhitespaceSplit":
                    var ws = new Regex(@"\s+", RegexOptions.Compiled);
                    steps.Add(pieces => SplitAll(pieces, ws, keepMatches: false));
                    break;
                default:
                    throw new NotSupportedException($"tokenizer.json: {at}.type '{type}' is not supported.");
            }
        }
    }

    /// <summary>Splits every piece at the regex's matches, keeping the matches (Isolated) or dropping them (Removed).</summary>
    private static void SplitAll(List<string> pieces, Regex regex, bool keepMatches)
    {
        var result = new List<string>(pieces.Count * 4);
        foreach (var piece in pieces)
        {
            var last = 0;
            foreach (var m in regex.EnumerateMatches(piece))
            {
                if (m.Index > last)
                {
                    result.Add(piece[last..m.Index]);
                }

                if (keepMatches && m.Length > 0)
                {
                    result.Add(piece.Substring(m.Index, m.Length));
                }

                last = m.Index + m.Length;
            }

            if (last < piece.Length)
            {
                result.Add(piece[last..]);
            }
        }

        pieces.Clear();
        pieces.AddRange(result);
    }

    private static void ApplyMetaspace(List<string> pieces, string replacement, string scheme, bool split)
    {
        for (var i = 0; i < pieces.Count; i++)
        {
            var text = pieces[i].Replace(" ", replacement, StringComparison.Ordinal);
            if ((scheme == "always" || (scheme == "first" && i == 0)) && !text.StartsWith(replacement, StringComparison.Ordinal))
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

    private static Regex SplitPattern(JsonElement e, string at)
    {
        var pattern = e.GetProperty("pattern");
        if (pattern.TryGetProperty("Regex", out var rx))
        {
            return new Regex(rx.GetString()!, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }

        if (pattern.TryGetProperty("String", out var s))
        {
            return new Regex(Regex.Escape(s.GetString()!), RegexOptions.Compiled);
        }

        throw new NotSupportedException($"tokenizer.json: {at}.pattern must hold Regex or String.");
    }

    internal static string TypeOf(JsonElement e, string path) =>
        e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!
            : throw new NotSupportedException($"tokenizer.json: {path}.type is missing.");
}

/// <summary>How a SentencePiece-style tokenizer marks spaces: decode turns the marker back into spaces and drops the first one it added.</summary>
internal sealed record MetaspaceInfo(string Replacement, bool StripsLeadingSpace);
