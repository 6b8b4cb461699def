namespace Flywheel.Serving.Adapters;

/// <summary>
/// Where an <see cref="AdapterRegistry"/> puts adapters: the engine's adapter slots behind
/// <see cref="Backend.EngineBackend"/>, or a stand-in in tests. Called from any thread.
/// </summary>
public interface IAdapterSlots
{
    /// <summary>
    /// Reads and checks the adapter folder <paramref name="path"/> and copies it into a free slot; returns the
    /// slot (1 or more; 0 is the base model). Throws <see cref="AdapterRejectedException"/> for a folder that
    /// cannot be served (the message names the file and the field), or when no slot is free.
    /// </summary>
    Task<int> LoadAsync(string path, CancellationToken cancellationToken);

    /// <summary>Frees <paramref name="slot"/>; requests still on it are aborted first.</summary>
    Task UnloadAsync(int slot, CancellationToken cancellationToken);
}
