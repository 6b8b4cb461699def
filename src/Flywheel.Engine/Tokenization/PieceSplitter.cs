namespace Flywheel.Tokenization;

/// <summary>What a Split pre-tokenizer does with the text its pattern matches (tokenizer.json's "behavior").</summary>
internal enum SplitBehavior
{
    /// <summary>Matches are dropped.</summary>
    Removed,

    /// <summary>Every match is a piece of its own.</summary>
    Isolated,

    /// <summary>A match joins the piece before it ("a b" on " " gives "a ", "b").</summary>
    MergedWithPrevious,

    /// <summary>A match joins the piece after it ("a b" on " " gives "a", " b").</summary>
    MergedWithNext,

    /// <summary>Adjacent matches form one piece ("a--b" on "-" gives "a", "--", "b").</summary>
    Contiguous,
}

/// <summary>
/// Splits pre-tokenizer pieces at a pattern's matches with Hugging Face's Split semantics: the text is cut
/// into alternating unmatched and matched spans (matched ones swapped when inverted), the behavior decides
/// which spans join, and empty pieces are dropped.
/// </summary>
internal static class PieceSplitter
{
    public static SplitBehavior ParseBehavior(string? name, string at) => name switch
    {
        "Removed" => SplitBehavior.Removed,
        "Isolated" => SplitBehavior.Isolated,
        "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
        "MergedWithNext" => SplitBehavior.MergedWithNext,
        "Contiguous" => SplitBehavior.Contiguous,
        _ => throw new NotSupportedException($"tokenizer.json: {at}: Split behavior '{name}' is not supported."),
    };

    public static void SplitAll(List<string> pieces, CodePointRegex pattern, SplitBehavior behavior, bool invert = false)
    {
        var result = new List<string>(pieces.Count * 4);
        var spans = new List<(int Start, int End, bool Match)>();
        foreach (var piece in pieces)
        {
            spans.Clear();
            var last = 0;
            foreach (var (start, length) in pattern.Matches(piece))
            {
                if (start > last)
                {
                    spans.Add((last, start, invert));
                }

                spans.Add((start, start + length, !invert));
                last = start + length;
            }

            if (last < piece.Length)
            {
                spans.Add((last, piece.Length, invert));
            }

            Join(spans, behavior);
            foreach (var (start, end, match) in spans)
            {
                if (end > start && !(behavior == SplitBehavior.Removed && match))
                {
                    result.Add(piece[start..end]);
                }
            }
        }

        pieces.Clear();
        pieces.AddRange(result);
    }

    /// <summary>Joins spans in place as <paramref name="behavior"/> says (Removed and Isolated join none).</summary>
    private static void Join(List<(int Start, int End, bool Match)> spans, SplitBehavior behavior)
    {
        if (behavior is SplitBehavior.Removed or SplitBehavior.Isolated || spans.Count < 2)
        {
            return;
        }

        var joined = new List<(int Start, int End, bool Match)>(spans.Count);
        if (behavior == SplitBehavior.MergedWithNext)
        {
            // A match not preceded by a match takes the span after it (walked from the end, as in Hugging Face).
            var nextIsMatch = false;
            for (var i = spans.Count - 1; i >= 0; i--)
            {
                var s = spans[i];
                if (s.Match && !nextIsMatch && joined.Count > 0)
                {
                    joined[^1] = (s.Start, joined[^1].End, false);
                }
                else
                {
                    joined.Add((s.Start, s.End, false));
                }

                nextIsMatch = s.Match;
            }

            joined.Reverse();
        }
        else
        {
            var previousIsMatch = false;
            foreach (var s in spans)
            {
                var joins = behavior == SplitBehavior.Contiguous ? s.Match == previousIsMatch : s.Match && !previousIsMatch;
                if (joins && joined.Count > 0)
                {
                    joined[^1] = (joined[^1].Start, s.End, false);
                }
                else
                {
                    joined.Add((s.Start, s.End, false));
                }

                previousIsMatch = s.Match;
            }
        }

        spans.Clear();
        spans.AddRange(joined);
    }
}
