namespace Flywheel.Structured;

/// <summary>
/// How much one token can raise a configuration's bound (<see cref="GrammarBudget.TokenRise"/>):
/// the near-the-budget masks let a token through unread when its rise fits.
/// </summary>
internal sealed partial class GrammarBudget
{
    /// <summary>
    /// Per byte class, the most a move on it can raise a configuration's bound: the move's rise in
    /// value, plus what the closure after it can add by calling (<see cref="ClosureRaise"/>), plus,
    /// where the closure can pop the frame, what the closures of return states below can add
    /// (popping itself adds nothing: a frame pops from a value of 0). A token's rise is at most the
    /// sum over its bytes. <see cref="Unbounded"/> where a move reaches a state no single-byte run completes.
    /// </summary>
    private static long[] ClassRise(CompiledGrammar g, int[] finish)
    {
        // A byte lowers a bound by at most one on the bound's own (single-byte) classes; -1 is a
        // sound floor for the others too, since a larger rise only makes the check more careful.
        var rise = new long[g.ClassCount];
        Array.Fill(rise, -1);
        var raise = ClosureRaise(g, finish);
        if (raise is null)
        {
            Array.Fill(rise, Unbounded);
            return rise;
        }

        long below = 0;
        foreach (var r in g.CallReturns)
        {
            below = Math.Max(below, raise[r]);
        }

        var pops = CanPop(g, finish);
        for (var s = 0; s < g.StateCount; s++)
        {
            if (finish[s] >= Unbounded)
            {
                continue; // never part of a configuration the budget lets through
            }

            for (var k = 0; k < g.ClassCount; k++)
            {
                var to = g.Next[(s * g.ClassCount) + k];
                if (to >= 0)
                {
                    var r = finish[to] >= Unbounded ? Unbounded : finish[to] - finish[s] + (pops[to] ? Math.Max(raise[to], below) : raise[to]);
                    rise[k] = Math.Max(rise[k], Math.Min(r, Unbounded));
                }
            }
        }

        return rise;
    }

    /// <summary>Per state, whether its closure can pop its frame: it accepts, or calls a rule that can end at once and returns to such a state.</summary>
    private static bool[] CanPop(CompiledGrammar g, int[] finish)
    {
        var pops = new bool[g.StateCount];
        for (var s = 0; s < g.StateCount; s++)
        {
            pops[s] = (g.Flags[s] & CompiledGrammar.FlagAccept) != 0;
        }

        for (var changed = true; changed;)
        {
            changed = false;
            for (var s = 0; s < g.StateCount; s++)
            {
                for (var k = g.CallOffsets[s]; k < g.CallOffsets[s + 1] && !pops[s]; k++)
                {
                    if (finish[g.CallStarts[k]] == 0 && pops[g.CallReturns[k]])
                    {
                        pops[s] = changed = true;
                    }
                }
            }
        }

        return pops;
    }

    /// <summary>
    /// Per state, the most its closure can raise a configuration's bound without popping its frame:
    /// raise[s] = max over s's calls of (the callee's start value and raise, plus the return
    /// state's value) or (the return state's value and raise, when the callee ends at once), less
    /// s's value. Solved by passes to a fixed point; null when it keeps growing or a call cannot be completed.
    /// </summary>
    private static long[]? ClosureRaise(CompiledGrammar g, int[] finish)
    {
        var raise = new long[g.StateCount];
        for (var pass = 0; pass < 64; pass++)
        {
            var changed = false;
            for (var s = 0; s < g.StateCount; s++)
            {
                for (var k = g.CallOffsets[s]; k < g.CallOffsets[s + 1]; k++)
                {
                    var (start, ret) = (g.CallStarts[k], g.CallReturns[k]);
                    if (finish[s] >= Unbounded)
                    {
                        break;
                    }

                    if (finish[start] >= Unbounded || finish[ret] >= Unbounded)
                    {
                        return null;
                    }

                    var viaCallee = finish[start] + raise[start] + finish[ret];
                    var viaReturn = finish[ret] + raise[ret];
                    var r = Math.Max(viaCallee, viaReturn) - finish[s];
                    if (r > raise[s])
                    {
                        raise[s] = r;
                        changed = true;
                    }
                }
            }

            if (!changed)
            {
                return raise;
            }
        }

        return null;
    }
}
