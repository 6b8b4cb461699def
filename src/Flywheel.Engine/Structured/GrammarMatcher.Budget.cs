namespace Flywheel.Structured;

/// <summary>
/// The token budget of a <see cref="GrammarMatcher"/> (see docs/decisions/budget-aware-grammar.md).
/// Invariant: the bound (fewest tokens that complete the document from the current configurations)
/// never exceeds the tokens left. The start keeps it (the budget is at least the schema's minimum);
/// each mask near the end keeps it by allowing only tokens after which the bound fits in one token
/// fewer, and such a token always exists (the first byte of a shortest completion, as a single-byte
/// token, lowers the bound by one). So the document is complete by the time the budget is spent.
/// </summary>
public sealed partial class GrammarMatcher
{
    private GrammarBudget? _budget;
    private int _remaining;

    /// <summary>Tokens left of the budget, or null for a matcher without one.</summary>
    public int? TokensLeft => _budget is null ? null : _remaining;

    /// <summary>
    /// Fewest tokens that complete the document from here (0 once complete), counted as the budget
    /// counts them; <see cref="int.MaxValue"/> when unknown (no budget, or no single-byte completion).
    /// </summary>
    public int TokensToFinish
    {
        get
        {
            if (_budget is null)
            {
                return int.MaxValue;
            }

            var (min, _) = Bounds(_current, 0, _count);
            return min >= GrammarBudget.Unbounded ? int.MaxValue : (int)min;
        }
    }

    /// <summary>
    /// Whether some allowed token could raise the bound past the tokens left after it: only then
    /// do masks check tokens one by one. Any configuration can be the one a token keeps, so the
    /// test takes the largest configuration bound, plus the most one token can add.
    /// </summary>
    private bool IsTight()
    {
        var (_, max) = Bounds(_current, 0, _count);
        return max + _budget!.TokenSlack > _remaining - 1L;
    }

    /// <summary>
    /// The mask's tight test: <see cref="IsTight()"/>, and then whether some configuration could be
    /// left past the tokens left by a token it reads. A configuration reads only tokens of its
    /// state's cache entry (<paramref name="entries"/>: accepted, or left to the stack), so its bound
    /// after one is at most its bound plus the largest rise over that entry, which is remembered on
    /// the entry; in a string region whose text keeps the bound within the limit (as
    /// <see cref="SafeTextTokens"/> finds), that text is bounded by the region's finish instead, and
    /// only the other tokens (a closing quote and what follows it) count by their rise. When no
    /// configuration can be left past the limit, every allowed token fits and the mask is the one
    /// without a budget, whatever the slack over the whole vocabulary.
    /// </summary>
    private bool IsTight(MaskCache.Entry?[] entries)
    {
        if (!IsTight())
        {
            return false;
        }

        var limit = _remaining - 1L;
        for (var c = 0; c < _count; c++)
        {
            if (_current[c] != PdaRunner.FinalNode && MostAfterAnyToken(c, entries[c]!, limit) > limit)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The most configuration <paramref name="c"/>'s bound can be after any token it reads (see <see cref="IsTight(MaskCache.Entry?[])"/>).</summary>
    private long MostAfterAnyToken(int c, MaskCache.Entry entry, long limit)
    {
        var node = _current[c];
        var state = _runner.StateOf(node);
        var bound = NodeBound(node);
        var (text, key, region) = (long.MinValue, default(MaskCache.RiseKey), default(GrammarBudget.TextRegion));
        if (_budget!.TextRegionOf(_runner.Grammar, state) is { } r
            && r.TryFit(bound - _budget.Finish[state], limit, out var boundaryOnly, out var most))
        {
            (text, key, region) = (most, new MaskCache.RiseKey(r.Groups, r.Bounded, boundaryOnly), r);
        }

        // The region's text set is fetched only when the entry's rise is worked out (once per entry and set).
        var rise = entry.TryGetMaxRise(_budget.TokenRise, key, out var known) ? known
            : _budget.RememberMaxRiseOf(entry, key, region is null ? null : RegionTokens(region, key.BoundaryOnly));
        return Math.Max(text, rise == GrammarBudget.NoToken ? long.MinValue : bound + rise);
    }

    /// <summary>Least and greatest bound over the configurations in <paramref name="nodes"/>[start..start+count).</summary>
    private (long Min, long Max) Bounds(int[] nodes, int start, int count)
    {
        long min = GrammarBudget.Unbounded, max = 0;
        for (var i = start; i < start + count; i++)
        {
            var b = NodeBound(nodes[i]);
            min = Math.Min(min, b);
            max = Math.Max(max, b);
        }

        return (min, max);
    }

    /// <summary>The sum over the stack's frames of each frame's fewest tokens to finish (the final node adds 0).</summary>
    private long NodeBound(int node)
    {
        var finish = _budget!.Finish;
        long sum = 0;
        for (var n = node; n != PdaRunner.FinalNode; n = _runner.ParentOf(n))
        {
            sum += finish[_runner.StateOf(n)];
        }

        return Math.Min(sum, GrammarBudget.Unbounded);
    }

    /// <summary>Whether, after <paramref name="bytes"/>, the document can still close in the tokens left after this one.</summary>
    private bool Fits(ReadOnlySpan<byte> bytes)
    {
        var mark = _runner.NodeCount;
        _runner.EnsureSets(_count);
        _current.AsSpan(0, _count).CopyTo(_runner.Sets);
        var (src, count) = Run(0, _count, bytes);

        var fits = count > 0 && Bounds(_runner.Sets, src, count).Min <= _remaining - 1L;
        _runner.NodeCount = mark;
        return fits;
    }
}
