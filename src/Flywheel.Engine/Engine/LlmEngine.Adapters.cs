using System.Collections.Concurrent;
using System.Diagnostics;
using Flywheel.Adapters;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Execution;

/// <summary>
/// LoRA adapters: the slots of the stacked buffers (<see cref="AdapterSlots"/>) and their life cycle.
/// A slot is Free, Loading (being copied in), Loaded (requests may name it) or Unloading (its requests are
/// being aborted). Loading copies on the caller's thread: no accepted request holds a slot that is not
/// Loaded, so no row reads it; a Run that multiplies by every bound slot while the copy is under way masks
/// that slot's (finite) products to zero for every row (see <see cref="AdapterSlots"/>). Unloading first
/// makes the slot's requests stale (its generation moves on, so submissions are refused and queued ones are
/// aborted when the engine takes them), then the engine thread aborts the running and waiting ones between
/// steps and only then zeros the slot and frees it.
/// </summary>
public sealed partial class LlmEngine
{
    private readonly AdapterSlots? _adapterSlots;
    private readonly object _adapterLock = new();
    private readonly AdapterState[] _adapterStates = [];     // [MaxLoraCount + 1], index 0 unused (the base)
    private readonly int[] _adapterGenerations = [];         // [MaxLoraCount + 1] bumped by each unload
    private readonly ConcurrentQueue<(int Slot, TaskCompletionSource Done)> _adapterUnloads = new();
    private TaskCompletionSource? _wake;                     // completes the idle engine thread's wait
    private volatile bool _loopExited;

    private enum AdapterState
    {
        Free,
        Loading,
        Loaded,
        Unloading,
    }

    /// <summary>True when the model can run adapters (its graph has the LoRA inputs) and MaxLoraCount > 0.</summary>
    public bool SupportsAdapters => AdapterUnsupportedReason is null;

    /// <summary>Why adapters cannot run on this model (null when SupportsAdapters).</summary>
    public string? AdapterUnsupportedReason { get; }

    /// <summary>Bytes of stacked buffer one adapter slot takes (float32 A and B at MaxLoraRank); 0 without adapters.</summary>
    public long AdapterSlotBytes => _adapterSlots?.BytesPerSlot ?? 0;

    /// <summary>Copies the adapter into a free slot (thread-safe, any thread); returns the slot, 1..MaxLoraCount.
    /// Throws InvalidOperationException when no slot is free or adapters are unsupported (message says which);
    /// ArgumentException when its rank exceeds MaxLoraRank.</summary>
    public Task<int> LoadAdapterAsync(PeftAdapter adapter, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(adapter);
        cancellationToken.ThrowIfCancellationRequested();
        if (_adapterSlots is null || AdapterUnsupportedReason is not null)
        {
            throw new InvalidOperationException("adapters are not supported: " + AdapterUnsupportedReason);
        }

        if (_adapterSlots.Refusal(adapter) is { } refusal)
        {
            throw new ArgumentException(refusal, nameof(adapter));
        }

        int slot;
        lock (_adapterLock)
        {
            slot = Array.IndexOf(_adapterStates, AdapterState.Free, 1);
            if (slot < 0)
            {
                throw new InvalidOperationException($"no free adapter slot: all {Options.MaxLoraCount} are in use (--max-loras)");
            }

            _adapterStates[slot] = AdapterState.Loading;
        }

        try
        {
            _adapterSlots.Write(slot, adapter);
        }
        catch
        {
            _adapterSlots.Clear(slot);
            lock (_adapterLock)
            {
                _adapterStates[slot] = AdapterState.Free;
            }

            throw;
        }

        lock (_adapterLock)
        {
            _adapterStates[slot] = AdapterState.Loaded;
        }

        return Task.FromResult(slot);
    }

    /// <summary>Frees the slot: requests still running or waiting on it finish with FinishReason.Abort first;
    /// the slot is zeroed and free for the next load when the task completes.</summary>
    public Task UnloadAdapterAsync(int slot, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_adapterLock)
        {
            if (slot < 1 || slot >= _adapterStates.Length || _adapterStates[slot] != AdapterState.Loaded)
            {
                throw new InvalidOperationException($"adapter slot {slot} is not loaded");
            }

            _adapterStates[slot] = AdapterState.Unloading;
            Interlocked.Increment(ref _adapterGenerations[slot]);
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _adapterUnloads.Enqueue((slot, done));
        if (_thread is null || _loopExited)
        {
            // No engine thread to do it (caller-driven steps, or the loop has ended): nothing runs concurrently.
            ProcessAdapterUnloads();
        }
        else
        {
            Volatile.Read(ref _wake)?.TrySetResult();
        }

        return done.Task;
    }

    /// <summary>The stacked buffers for the model's LoRA inputs (null without them) and why adapters cannot run, if not.</summary>
    private static (AdapterSlots? Slots, string? Reason) CreateAdapterSlots(ModelFolder model, EngineOptions options)
    {
        var layers = model.Config.Decoder.NumHiddenLayers;
        if (!model.Session.InputMetadata.ContainsKey(LoraGraphNames.SlotIds))
        {
            return (null, $"the model's graph has no LoRA inputs ({model.Directory} was not written by 'flywheel make-model --lora' or 'flywheel import --lora'); adapters are not merged into a downloaded graph");
        }

        if (options.MaxLoraCount == 0)
        {
            // The graph still needs its buffers bound: slot 0 alone, all zeros.
            return (AdapterSlots.ForSession(model.Session, layers, 1, 1), "the engine holds no adapter slots (--max-loras is 0)");
        }

        return (AdapterSlots.ForSession(model.Session, layers, options.MaxLoraCount + 1, options.MaxLoraRank), null);
    }

    /// <summary>Why a request's adapter slot is refused (not loaded), or null; <paramref name="generation"/> is the slot's load count.</summary>
    private string? AdapterRefusal(EngineRequest request, out int generation)
    {
        generation = 0;
        if (request.AdapterSlot == 0)
        {
            return null;
        }

        lock (_adapterLock)
        {
            if (request.AdapterSlot < 0 || request.AdapterSlot >= _adapterStates.Length || _adapterStates[request.AdapterSlot] != AdapterState.Loaded)
            {
                return $"adapter slot {request.AdapterSlot} is not loaded";
            }

            generation = _adapterGenerations[request.AdapterSlot];
            return null;
        }
    }

    /// <summary>Whether the request's adapter was unloaded after the request was accepted.</summary>
    private bool IsAdapterStale(Sequence s) => s.AdapterSlot != 0 && Volatile.Read(ref _adapterGenerations[s.AdapterSlot]) != s.AdapterGeneration;

    /// <summary>Engine thread, between steps: aborts the requests of unloading adapters, then zeros and frees their slots.</summary>
    private void ProcessAdapterUnloads()
    {
        if (_adapterUnloads.IsEmpty)
        {
            return;
        }

        var running = _scheduler.Running;
        for (var i = running.Count - 1; i >= 0; i--)
        {
            if (IsAdapterStale(running[i]))
            {
                Finish(running[i], FinishReason.Abort, AdapterUnloadedError);
            }
        }

        AbortWaitingAndPublish(IsAdapterStale, AdapterUnloadedError);
        while (_adapterUnloads.TryDequeue(out var unload))
        {
            _adapterSlots!.Clear(unload.Slot);
            lock (_adapterLock)
            {
                _adapterStates[unload.Slot] = AdapterState.Free;
            }

            unload.Done.TrySetResult();
        }
    }

    private const string AdapterUnloadedError = "the request's adapter was unloaded";

    private void EmitAdapterUnloaded(Sequence w) =>
        Emit(w.Output, new FinishEvent(FinishReason.Abort, w.PromptLength, 0, 0, 0, Stopwatch.GetElapsedTime(w.ArrivalTimestamp).TotalSeconds, AdapterUnloadedError));
}
