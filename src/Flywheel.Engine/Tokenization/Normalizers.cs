using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Flywheel.Tokenization;

/// <summary>A tokenizer.json normalizer: text in, text out.</summary>
internal delegate string Normalizer(string text);

/// <summary>Builds normalizers from tokenizer.json; unknown kinds are refused by JSON path.</summary>
internal static class Normalizers
{
    public static Normalizer? Build(JsonElement n, string path)
    {
        if (n.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var type = PreTokenizers.TypeOf(n, path);
        switch (type)
        {
            case "NFC": return t => t.Normalize(NormalizationForm.FormC);
            case "NFD": return t => t.Normalize(NormalizationForm.FormD);
            case "NFKC": return t => t.Normalize(NormalizationForm.FormKC);
            case "NFKD": return t => t.Normalize(NormalizationForm.FormKD);
            case "Lowercase": return t => t.ToLowerInvariant();
            case "Strip":
                var left = !n.TryGetProperty("strip_left", out var sl) || sl.GetBoolean();
                var right = !n.TryGetProperty("strip_right", out var sr) || sr.GetBoolean();
                return t => left && right ? t.Trim() : left ? t.TrimStart() : right ? t.TrimEnd() : t;
            case "StripAccents":
                // Drops non-spacing marks (usually after NFD, which splits accents off their letters).
                return t => string.Concat(t.EnumerateRunes().Where(r => Rune.GetUnicodeCategory(r) != System.Globalization.UnicodeCategory.NonSpacingMark).Select(r => r.ToString()));
            case "Prepend":
                var prepend = n.GetProperty("prepend").GetString()!;
                return t => t.Length == 0 ? t : prepend + t;
            case "Replace":
                var (find, content) = ReplacePattern(n, path);
                return t => find.Replace(t, content);
            case "Sequence":
                var steps = n.GetProperty("normalizers").EnumerateArray().Select((s, i) => Build(s, $"{path}.normalizers[{i}]")).Where(s => s is not null).ToList();
                return t => steps.Aggregate(t, (acc, s) => s!(acc));
            default:
                throw new NotSupportedException($"tokenizer.json: {path}.type '{type}' is not supported.");
        }
    }

    private static (Regex Find, string Content) ReplacePattern(JsonElement n, string path)
    {
        var content = n.GetProperty("content").GetString()!;
        var pattern = n.GetProperty("pattern");
        if (pattern.TryGetProperty("String", out var s))
        {
            return (new Regex(Regex.Escape(s.GetString()!)), content.Replace("$", "$$", StringComparison.Ordinal));
        }

        if (pattern.TryGetProperty("Regex", out var rx))
        {
            return (new Regex(rx.GetString()!), content.Replace("$", "$$", StringComparison.Ordinal));
        }

        throw new NotSupportedException($"tokenizer.json: {path}.pattern must hold Regex or String.");
    }
}
