using Flywheel.Serving.Backend;

namespace Flywheel.Server.Tests.Serving.Backend;

public sealed class StopStringFilterTests
{
    [Fact]
    public void StopStringSplitAcrossPiecesIsHeldBackAndDropped()
    {
        var filter = new StopStringFilter(["END", "\n\n"]);
        Assert.Equal("Hello ", filter.Push("Hello E"));
        Assert.Equal("", filter.Push("N"));
        Assert.Equal("", filter.Push("D and more"));
        Assert.True(filter.Stopped);
        Assert.Equal("", filter.Flush());
    }

    [Fact]
    public void FalseStartIsReleasedAndEarliestStopWins()
    {
        var filter = new StopStringFilter(["END"]);
        Assert.Equal("a", filter.Push("aE"));
        Assert.Equal("Ex", filter.Push("x"));
        Assert.Equal("tail E", filter.Push("tail E"[..6]) + filter.Flush());

        var two = new StopStringFilter(["bc", "ab"]);
        Assert.Equal("x", two.Push("xabc"));
        Assert.True(two.Stopped);
    }

    [Fact]
    public void NoStopsPassesEverythingThrough()
    {
        var filter = new StopStringFilter([]);
        Assert.Equal("abc", filter.Push("abc"));
        Assert.False(filter.Stopped);
    }
}
