using System.Diagnostics.CodeAnalysis;

namespace Flywheel.Serving.Adapters;

/// <summary>
/// The LoRA adapters a server serves by name over its base model: name to engine slot, and what each is
/// doing. Loads reserve their name and a slot before reading the folder, so two loads never take the same
/// name and the slots are never oversubscribed. An unload takes the name away at once (new requests for it
/// get 404), waits up to <see cref="UnloadWait"/> for the requests it holds, then aborts the rest and frees
/// the slot. Thread-safe.
/// </summary>
public sealed class AdapterRegistry
{
    private readonly IAdapterSlots _slots;
    private readonly string _baseModelId;
    private readonly string? _unsupportedReason;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, LoadedAdapter> _loaded = new(StringComparer.Ordinal);
    private readonly HashSet<string> _pending = new(StringComparer.Ordinal);
    private int _slotsTaken; // loaded + loading + unloading: what the engine's slots hold or will hold

    /// <param name="slots">Where adapters go (the engine's slots).</param>
    /// <param name="baseModelId">The base model's name, which no adapter may take.</param>
    /// <param name="maxCount">Adapters resident at once (--max-loras); 0 = none can be loaded.</param>
    /// <param name="unsupportedReason">Why no adapter can be loaded when the model, not --max-loras, rules them out
    /// (its graph has no LoRA inputs); loads are then refused with this message.</param>
    public AdapterRegistry(IAdapterSlots slots, string baseModelId, int maxCount, string? unsupportedReason = null)
    {
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(baseModelId);
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        _slots = slots;
        _baseModelId = baseModelId;
        MaxCount = unsupportedReason is null ? maxCount : 0;
        _unsupportedReason = unsupportedReason;
    }

    /// <summary>Adapters resident at once (--max-loras).</summary>
    public int MaxCount { get; }

    /// <summary>How long an unload waits for the requests on its adapter before aborting them (default 10 s).</summary>
    public TimeSpan UnloadWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The loaded adapters, by name (a copy).</summary>
    public IReadOnlyList<LoadedAdapter> Loaded
    {
        get
        {
            lock (_lock)
            {
                return [.. _loaded.Values.OrderBy(a => a.Name, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>The loaded adapter named <paramref name="name"/>, or null (unloading ones are gone).</summary>
    public LoadedAdapter? Find(string name)
    {
        lock (_lock)
        {
            return _loaded.GetValueOrDefault(name);
        }
    }

    /// <summary>
    /// Holds the adapter named <paramref name="name"/> for one request; false when none is loaded under
    /// that name. The caller disposes the lease when the response ends.
    /// </summary>
    public bool TryAcquire(string name, [NotNullWhen(true)] out AdapterLease? lease)
    {
        lock (_lock)
        {
            lease = _loaded.TryGetValue(name, out var adapter) ? new AdapterLease(adapter) : null;
            return lease is not null;
        }
    }

    /// <summary>
    /// Loads the adapter folder <paramref name="path"/> under <paramref name="name"/>. Throws
    /// <see cref="AdapterRejectedException"/> for a name that is taken, no free slot, or a folder that
    /// cannot be served (naming the file and field). The load is not abandoned once the folder is being
    /// read: the slot it takes must end up registered or freed, never lost.
    /// </summary>
    public async Task<LoadedAdapter> LoadAsync(string name, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(path);
        lock (_lock)
        {
            if (MaxCount == 0)
            {
                throw new AdapterRejectedException(AdapterRejection.Unsupported,
                    _unsupportedReason is null ? "This server was started without adapter slots (--max-loras 0)." : $"This model cannot take adapters: {_unsupportedReason}");
            }

            if (name == _baseModelId || _loaded.ContainsKey(name) || _pending.Contains(name))
            {
                throw new AdapterRejectedException(AdapterRejection.NameTaken,
                    name == _baseModelId ? $"'{name}' is the base model's name." : $"An adapter named '{name}' is already loaded.", "lora_name");
            }

            if (_slotsTaken == MaxCount)
            {
                throw new AdapterRejectedException(AdapterRejection.NoFreeSlot,
                    $"All {MaxCount} adapter slots are in use (--max-loras {MaxCount}); unload an adapter first.");
            }

            _pending.Add(name);
            _slotsTaken++;
        }

        LoadedAdapter? adapter = null;
        try
        {
            // Off the lock: reading a folder takes a while and must not hold up requests.
            var slot = await _slots.LoadAsync(path, CancellationToken.None).ConfigureAwait(false);
            adapter = new LoadedAdapter(name, path, slot);
            return adapter;
        }
        finally
        {
            lock (_lock)
            {
                _pending.Remove(name);
                if (adapter is null)
                {
                    _slotsTaken--;
                }
                else
                {
                    _loaded.Add(name, adapter);
                }
            }
        }
    }

    /// <summary>
    /// Unloads the adapter named <paramref name="name"/>: from this call on, requests for the name are
    /// refused; the requests it holds get up to <see cref="UnloadWait"/> to finish, the rest are aborted
    /// (their clients get an error saying the adapter was unloaded), and the slot is freed. Throws
    /// <see cref="AdapterRejectedException"/> (NotFound) when no adapter of that name is loaded.
    /// </summary>
    public async Task UnloadAsync(string name)
    {
        LoadedAdapter? adapter;
        lock (_lock)
        {
            if (!_loaded.Remove(name, out adapter))
            {
                throw new AdapterRejectedException(AdapterRejection.NotFound, $"No adapter named '{name}' is loaded.", "lora_name");
            }

            adapter.BeginUnload();
        }

        try
        {
            await adapter.Idle.WaitAsync(UnloadWait).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The wait is over: what still runs is aborted here and by the engine's unload below.
        }

        try
        {
            adapter.AbortRemaining();
            await _slots.UnloadAsync(adapter.Slot, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _slotsTaken--;
            }
        }
    }
}
