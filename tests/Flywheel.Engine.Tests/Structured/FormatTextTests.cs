using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>
/// A format's string without a length reuses one product of "any text" and the format for the
/// process: it must be the product a compile would make, and cost the compile's budget as much.
/// </summary>
public sealed class FormatTextTests
{
    [Fact]
    public void Kept_product_is_the_fresh_one_and_charges_the_same_states()
    {
        foreach (var name in StringFormats.Supported)
        {
            var format = StringFormats.Get(name, "#");
            var freshBudget = Automata.Unlimited();
            var fresh = ByteDfa.Intersect(StringAutomata.AnyText, format, freshBudget);
            for (var use = 0; use < 2; use++) // the first use makes it, the second finds it
            {
                var budget = Automata.Unlimited();
                var kept = StringAutomata.TextAnd(format, budget);
                Assert.True(freshBudget.StateCount > 0, name);
                Assert.Equal(freshBudget.StateCount, budget.StateCount);
                Automata.AssertSame(fresh, kept, name);
            }
        }
    }

    [Fact]
    public void Kept_product_still_refuses_a_compile_over_its_state_limit()
    {
        var format = StringFormats.Get("date-time", "#");
        var needed = Automata.Unlimited();
        StringAutomata.TextAnd(format, needed);
        var tight = new CompileBudget((int)needed.StateCount - 1, Timeout.InfiniteTimeSpan, CancellationToken.None);
        Assert.Throws<SchemaCompileException>(() => StringAutomata.TextAnd(format, tight));
    }
}
