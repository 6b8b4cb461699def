using Flywheel.Serving.Adapters;

namespace Flywheel.Server.Tests.Serving.Adapters;

/// <summary>
/// The registry on its own, over slots the test controls: names and slots are reserved before a folder is
/// read, a failed load gives its slot back, and an unload refuses new requests at once, waits for the
/// requests it holds, and frees the slot only after them.
/// </summary>
public sealed class AdapterRegistryTests
{
    [Fact]
    public async Task ALoadInProgressHoldsItsNameAndSlot()
    {
        var slots = new Slots();
        var registry = new AdapterRegistry(slots, "base", maxCount: 1);
        var gate = slots.HoldNextLoad();

        var first = registry.LoadAsync("a", "/a");
        var sameName = await Assert.ThrowsAsync<AdapterRejectedException>(() => registry.LoadAsync("a", "/a2"));
        var noSlot = await Assert.ThrowsAsync<AdapterRejectedException>(() => registry.LoadAsync("b", "/b"));
        gate.SetResult();
        await first;

        Assert.Equal(AdapterRejection.NameTaken, sameName.Reason);
        Assert.Equal(AdapterRejection.NoFreeSlot, noSlot.Reason);
        Assert.Equal(["a"], registry.Loaded.Select(a => a.Name));
    }

    [Fact]
    public async Task AFailedLoadGivesItsSlotBack()
    {
        var slots = new Slots { FailNext = true };
        var registry = new AdapterRegistry(slots, "base", maxCount: 1);

        await Assert.ThrowsAsync<AdapterRejectedException>(() => registry.LoadAsync("a", "/bad"));
        var loaded = await registry.LoadAsync("a", "/good");

        Assert.Equal("/good", loaded.Path);
        await Assert.ThrowsAsync<AdapterRejectedException>(() => registry.LoadAsync("base", "/x"));
    }

    [Fact]
    public async Task UnloadRefusesNewRequestsAtOnceAndFreesTheSlotAfterTheHeldOnes()
    {
        var slots = new Slots();
        var registry = new AdapterRegistry(slots, "base", maxCount: 1) { UnloadWait = TimeSpan.FromMinutes(5) };
        var adapter = await registry.LoadAsync("a", "/a");
        Assert.True(registry.TryAcquire("a", out var lease));

        var unload = registry.UnloadAsync("a");

        Assert.False(registry.TryAcquire("a", out _));
        Assert.Null(registry.Find("a"));
        Assert.False(unload.IsCompleted);
        Assert.Empty(slots.Unloaded);
        Assert.False(adapter.UnloadToken.IsCancellationRequested);
        lease.Dispose();
        await unload;
        Assert.Equal([adapter.Slot], slots.Unloaded);
        await registry.LoadAsync("b", "/b"); // the slot is free again
        await Assert.ThrowsAsync<AdapterRejectedException>(() => registry.UnloadAsync("a"));
    }

    [Fact]
    public async Task UnloadAbortsWhatOutlivesTheWait()
    {
        var slots = new Slots();
        var registry = new AdapterRegistry(slots, "base", maxCount: 1) { UnloadWait = TimeSpan.Zero };
        var adapter = await registry.LoadAsync("a", "/a");
        Assert.True(registry.TryAcquire("a", out var lease));

        await registry.UnloadAsync("a");

        Assert.True(adapter.UnloadToken.IsCancellationRequested);
        Assert.Equal([adapter.Slot], slots.Unloaded);
        lease.Dispose();
        Assert.Equal(0, adapter.InFlightCount);
    }

    /// <summary>Slots handed out in order; a load can be held or made to fail.</summary>
    private sealed class Slots : IAdapterSlots
    {
        private TaskCompletionSource? _hold;
        private int _next;

        public bool FailNext { get; set; }

        public List<int> Unloaded { get; } = [];

        public TaskCompletionSource HoldNextLoad() => _hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<int> LoadAsync(string path, CancellationToken cancellationToken)
        {
            if (_hold is { } hold)
            {
                _hold = null;
                await hold.Task;
            }

            if (FailNext)
            {
                FailNext = false;
                throw new AdapterRejectedException(AdapterRejection.InvalidAdapter, path + ": bad", "lora_path");
            }

            return ++_next;
        }

        public Task UnloadAsync(int slot, CancellationToken cancellationToken)
        {
            Unloaded.Add(slot);
            return Task.CompletedTask;
        }
    }
}
