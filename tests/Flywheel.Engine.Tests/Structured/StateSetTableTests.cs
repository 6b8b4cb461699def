using Flywheel.Structured;

namespace Flywheel.Engine.Tests.Structured;

/// <summary>The interning of determinized states' sets: equal sets get one id, whatever their size.</summary>
public sealed class StateSetTableTests
{
    [Fact]
    public void Equal_sets_share_an_id_and_read_back_exactly()
    {
        var table = new StateSetTable();
        var empty = table.GetOrAdd([], out var addedEmpty);
        var small = table.GetOrAdd([1, 5, 9], out var addedSmall);
        var huge = Enumerable.Range(0, 100_000).ToArray(); // larger than one chunk: gets its own
        var big = table.GetOrAdd(huge, out var addedBig);
        var after = table.GetOrAdd([2, 3], out _);

        Assert.True(addedEmpty && addedSmall && addedBig);
        Assert.Equal([0, 1, 2, 3], new[] { empty, small, big, after });
        Assert.Equal(small, table.GetOrAdd([1, 5, 9], out var again));
        Assert.False(again);
        Assert.Equal(empty, table.GetOrAdd([], out _));
        Assert.Equal(big, table.GetOrAdd(huge, out _));
        Assert.NotEqual(small, table.GetOrAdd([1, 5], out _));
        Assert.Equal(huge, table[big].ToArray());
        Assert.Equal([2, 3], table[after].ToArray());
        Assert.True(table[empty].IsEmpty);
        Assert.Equal(5, table.Count);
        Assert.Equal(100_000 + 3 + 2 + 2, table.Entries);
    }

    [Fact]
    public void Many_sets_survive_rehashing()
    {
        var table = new StateSetTable();
        for (var i = 0; i < 20_000; i++)
        {
            Assert.Equal(i, table.GetOrAdd([i, i + 1], out _));
        }

        for (var i = 0; i < 20_000; i++)
        {
            Assert.Equal(i, table.GetOrAdd([i, i + 1], out var added));
            Assert.False(added);
            Assert.Equal([i, i + 1], table[i].ToArray());
        }
    }
}
