using Flywheel.Adapters;

namespace Flywheel.Execution;

// PLACEHOLDER: this file is replaced by the engine's implementation (stacked A/B buffers bound as graph
// inputs, per-row adapter slots in every Run). It exists only so the serving layer compiles and its tests run
// against the agreed members: it hands out and frees slots, and applies no adapter weights at all.
public sealed partial class LlmEngine
{
    private readonly Lock _adapterSlotLock = new();
    private readonly HashSet<int> _adapterSlotsInUse = [];

    /// <summary>True when the model can run adapters (its graph has the LoRA inputs) and MaxLoraCount > 0.</summary>
    public bool SupportsAdapters => Options.MaxLoraCount > 0;

    /// <summary>Why adapters cannot run on this model (null when SupportsAdapters).</summary>
    public string? AdapterUnsupportedReason => SupportsAdapters ? null : "adapters are off (MaxLoraCount is 0)";

    /// <summary>Copies the adapter into a free slot (thread-safe, any thread); returns the slot, 1..MaxLoraCount.
    /// Throws InvalidOperationException when no slot is free or adapters are unsupported (message says which);
    /// ArgumentException when its rank exceeds MaxLoraRank.</summary>
    public Task<int> LoadAdapterAsync(PeftAdapter adapter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        if (!SupportsAdapters)
        {
            throw new InvalidOperationException($"adapters cannot run: {AdapterUnsupportedReason}");
        }

        if (adapter.Config.Rank > Options.MaxLoraRank)
        {
            throw new ArgumentException($"the adapter's rank {adapter.Config.Rank} exceeds MaxLoraRank {Options.MaxLoraRank}", nameof(adapter));
        }

        lock (_adapterSlotLock)
        {
            for (var slot = 1; slot <= Options.MaxLoraCount; slot++)
            {
                if (_adapterSlotsInUse.Add(slot))
                {
                    return Task.FromResult(slot);
                }
            }
        }

        throw new InvalidOperationException($"no adapter slot is free (all {Options.MaxLoraCount} are in use)");
    }

    /// <summary>Frees the slot: requests still running or waiting on it finish with FinishReason.Abort first;
    /// the slot is zeroed and free for the next load when the task completes.</summary>
    public Task UnloadAdapterAsync(int slot, CancellationToken cancellationToken = default)
    {
        lock (_adapterSlotLock)
        {
            if (!_adapterSlotsInUse.Remove(slot))
            {
                throw new ArgumentOutOfRangeException(nameof(slot), $"adapter slot {slot} is not loaded");
            }
        }

        return Task.CompletedTask;
    }
}
