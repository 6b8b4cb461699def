using Flywheel.Adapters;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Serving.Adapters;

namespace Flywheel.Serving.Backend;

/// <summary>
/// The engine's adapter slots for an <see cref="AdapterRegistry"/>: a folder is read and checked against the
/// base model's shape (<see cref="PeftAdapter.Load"/>, on a pool thread: it reads the whole file), then copied
/// into a free slot by the engine. Every way a folder can be wrong comes back as an
/// <see cref="AdapterRejectedException"/> whose message names the file and the field or tensor.
/// </summary>
internal sealed class EngineAdapterSlots(LlmEngine engine, string modelDirectory) : IAdapterSlots
{
    // Reading the base's shape loads its graph file once; only a server that loads adapters pays for it.
    private readonly Lazy<AdapterBaseShape> _baseShape = new(() => AdapterBaseShape.FromModelFolder(modelDirectory));

    public async Task<int> LoadAsync(string path, CancellationToken cancellationToken)
    {
        PeftAdapter adapter;
        try
        {
            adapter = await Task.Run(() => PeftAdapter.Load(path, BaseShape(), engine.Options.MaxLoraRank), cancellationToken).ConfigureAwait(false);
        }
        catch (ModelConfigException e)
        {
            throw new AdapterRejectedException(AdapterRejection.InvalidAdapter, e.Message, "lora_path");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AdapterRejectedException(AdapterRejection.InvalidAdapter, $"{path}: cannot be read: {e.Message}", "lora_path");
        }

        try
        {
            return await engine.LoadAdapterAsync(adapter, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException e)
        {
            throw new AdapterRejectedException(AdapterRejection.InvalidAdapter, $"{path}: {e.Message}", "lora_path");
        }
        catch (InvalidOperationException e)
        {
            throw new AdapterRejectedException(engine.SupportsAdapters ? AdapterRejection.NoFreeSlot : AdapterRejection.Unsupported, e.Message);
        }
    }

    public Task UnloadAsync(int slot, CancellationToken cancellationToken) => engine.UnloadAdapterAsync(slot, cancellationToken);

    private AdapterBaseShape BaseShape()
    {
        try
        {
            return _baseShape.Value;
        }
        catch (ModelConfigException e)
        {
            // The base, not the adapter, is at fault: no adapter can be served on it.
            throw new AdapterRejectedException(AdapterRejection.Unsupported, e.Message);
        }
    }
}
