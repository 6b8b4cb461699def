using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>Automata helpers shared by the tests that compare a construction with the one it replaces.</summary>
internal static class Automata
{
    /// <summary>A budget that never refuses, to count what a construction charges.</summary>
    public static CompileBudget Unlimited() =>
        new(int.MaxValue / CompileBudget.NfaStatesPerState, Timeout.InfiniteTimeSpan, CancellationToken.None);

    /// <summary>The same states in the same numbering: every row and every accepting flag.</summary>
    public static void AssertSame(ByteDfa expected, ByteDfa actual, string name)
    {
        Assert.Equal(expected.StateCount, actual.StateCount);
        var (rowE, rowA) = (new int[256], new int[256]);
        for (var s = 0; s < expected.StateCount; s++)
        {
            expected.CopyRow(s, rowE);
            actual.CopyRow(s, rowA);
            Assert.True(rowE.AsSpan().SequenceEqual(rowA), $"{name}: row {s}");
            Assert.Equal(expected.IsAccepting(s), actual.IsAccepting(s));
        }
    }
}
