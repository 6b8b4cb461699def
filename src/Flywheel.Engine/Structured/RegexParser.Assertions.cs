namespace Flywheel.Structured;

/// <summary>
/// A word boundary (<c>\b</c>, or <c>\B</c> when <paramref name="Negated"/>) while parsing; it never
/// reaches the compiler: <see cref="RegexParser"/> rewrites it into character sets or removes it.
/// </summary>
internal sealed record RegexBoundary(bool Negated) : RegexNode;

/// <summary>
/// Zero-width assertions compiled exactly where the pattern decides them. A leading negative
/// lookahead (<c>^(?!rpc\.)</c>) is "does not start with": the caller subtracts its prefixes. A word
/// boundary is resolved from its neighbours: where the characters on both sides are known to be word
/// (ECMA-262: ASCII letters, digits, '_') or non-word characters it holds or fails outright; where one
/// side is known and the other is the free end of the search, or a single character set, it becomes
/// a condition on that character ("after SELECT, \b: a non-word character or the end"). Anything else
/// is refused.
/// </summary>
internal sealed partial class RegexParser
{
    /// <summary>Most alternatives a pattern's word boundaries may split it into.</summary>
    private const int MaxBoundaryBranches = 64;

    private enum Side { None, Word, NonWord, Mixed }

    /// <summary>Reads the negative lookaheads right after a leading '^' (their bodies as alternatives), or null.</summary>
    private RegexNode? ParseLeadingLookaheads()
    {
        var bodies = new List<RegexNode>();
        while (_i + 2 < _p.Length && _p[_i] == '(' && _p[_i + 1] == '?' && _p[_i + 2] == '!')
        {
            _i += 3;
            _groupDepth++; // a boundary inside is not at the top level
            bodies.Add(ParseAlt());
            Expect(')');
            _groupDepth--;
            if (_i < _p.Length && _p[_i] is '*' or '+' or '?' or '{')
            {
                throw Error("a quantified lookahead is not supported");
            }
        }

        return bodies.Count switch { 0 => null, 1 => bodies[0], _ => new RegexAlt(bodies) };
    }

    /// <summary>Rewrites every branch's word boundaries; refuses those its neighbours do not decide.</summary>
    private List<(bool Start, RegexNode Body, bool End)> ResolveBoundaries(List<(bool Start, RegexNode Body, bool End)> branches)
    {
        var done = new List<(bool, RegexNode, bool)>();
        var work = new Stack<(bool Start, List<RegexNode> Items, bool End)>(
            branches.Select(b => (b.Start, b.Body is RegexConcat c ? c.Items.ToList() : [b.Body], b.End)));
        while (work.TryPop(out var b))
        {
            var i = b.Items.FindIndex(n => n is RegexBoundary);
            if (i < 0)
            {
                done.Add((b.Start, b.Items.Count == 1 ? b.Items[0] : new RegexConcat(b.Items), b.End));
            }
            else
            {
                foreach (var next in ResolveOne(b.Start, b.Items, i, b.End))
                {
                    work.Push(next);
                }
            }

            if (done.Count + work.Count > MaxBoundaryBranches)
            {
                throw Error($"word boundaries split the pattern into more than {MaxBoundaryBranches} alternatives");
            }
        }

        return done;
    }

    private IEnumerable<(bool, List<RegexNode>, bool)> ResolveOne(bool start, List<RegexNode> items, int i, bool end)
    {
        var negated = ((RegexBoundary)items[i]).Negated;
        var before = items[..i];
        var after = items[(i + 1)..];
        var (lastSet, beforeNullable) = Edge(before, last: true);
        var (firstSet, afterNullable) = Edge(after, last: false);
        var left = Join(Classify(lastSet), beforeNullable ? (start ? Side.NonWord : Side.Mixed) : Side.None);
        var right = Join(Classify(firstSet), afterNullable ? (end ? Side.NonWord : Side.Mixed) : Side.None);
        if (left == Side.None || right == Side.None)
        {
            return [(start, [new RegexSet(Empty)], end)]; // a side that matches nothing: so does the branch
        }

        if (left != Side.Mixed && right != Side.Mixed)
        {
            var holds = (left != right) != negated;
            return holds ? [(start, [.. before, .. after], end)] : [(start, [new RegexSet(Empty)], end)];
        }

        if (left != Side.Mixed)
        {
            // The next character must be of this kind (NonWord includes the end of the string).
            var need = (left == Side.Word) != negated ? Side.NonWord : Side.Word;
            if (after.Count == 0 && !end)
            {
                return need == Side.Word
                    ? [(start, [.. before, new RegexSet(Word)], false)]
                    : [(start, before, true), (start, [.. before, new RegexSet(Word.Complement())], false)];
            }

            if (after[0] is RegexSet next)
            {
                return [(start, [.. before, new RegexSet(Intersect(next.Set, need)), .. after[1..]], end)];
            }
        }
        else if (right != Side.Mixed)
        {
            // The previous character must be of this kind (NonWord includes the start of the string).
            var need = (right == Side.Word) != negated ? Side.NonWord : Side.Word;
            if (before.Count == 0 && !start)
            {
                return need == Side.Word
                    ? [(false, [new RegexSet(Word), .. after], end)]
                    : [(true, after, end), (false, [new RegexSet(Word.Complement()), .. after], end)];
            }

            if (before[^1] is RegexSet previous)
            {
                return [(start, [.. before[..^1], new RegexSet(Intersect(previous.Set, need)), .. after], end)];
            }
        }

        throw Error($"'\\{(negated ? 'B' : 'b')}' is only supported where the pattern decides whether the characters around it are word characters");
    }

    private static readonly CodePointSet Empty = CodePointSet.Of([]);

    private static CodePointSet Intersect(CodePointSet a, Side kind)
    {
        var other = kind == Side.Word ? Word.Complement() : Word;
        return a.Complement().Union(other).Complement();
    }

    private static Side Classify(CodePointSet set)
    {
        var word = Intersect(set, Side.Word).Ranges.Count > 0;
        var nonWord = Intersect(set, Side.NonWord).Ranges.Count > 0;
        return word && nonWord ? Side.Mixed : word ? Side.Word : nonWord ? Side.NonWord : Side.None;
    }

    private static Side Join(Side a, Side b) => a == Side.None ? b : b == Side.None || a == b ? a : Side.Mixed;

    /// <summary>The characters a sequence can end with (or start with), and whether it can match the empty string.</summary>
    private static (CodePointSet Set, bool Nullable) Edge(IReadOnlyList<RegexNode> items, bool last)
    {
        var set = Empty;
        for (var k = 0; k < items.Count; k++)
        {
            var (s, nullable) = Edge(items[last ? items.Count - 1 - k : k], last);
            set = set.Union(s);
            if (!nullable)
            {
                return (set, false);
            }
        }

        return (set, true);
    }

    private static (CodePointSet Set, bool Nullable) Edge(RegexNode node, bool last) => node switch
    {
        RegexSet s => (s.Set, false),
        RegexConcat c => Edge(c.Items, last),
        RegexAlt a => a.Items.Select(n => Edge(n, last)).Aggregate((Set: Empty, Nullable: false), (x, y) => (x.Set.Union(y.Set), x.Nullable || y.Nullable)),
        RegexRepeat { Max: 0 } => (Empty, true),
        RegexRepeat r => Edge(r.Item, last) is var e ? (e.Set, e.Nullable || r.Min == 0) : default,
        _ => (Empty, true), // a word boundary: zero-width
    };
}
