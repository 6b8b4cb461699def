namespace Flywheel.Serving.Adapters;

/// <summary>Why an adapter could not be loaded or unloaded; the edge turns each into its own status and code.</summary>
public enum AdapterRejection
{
    /// <summary>The folder is not an adapter this base can serve (bad config field, tensor, rank): 400.</summary>
    InvalidAdapter,

    /// <summary>The name is taken (an adapter or the base model): 400.</summary>
    NameTaken,

    /// <summary>Every adapter slot holds an adapter: 409, until one is unloaded.</summary>
    NoFreeSlot,

    /// <summary>No adapter of that name is loaded: 404.</summary>
    NotFound,

    /// <summary>The model cannot run adapters at all (the server was started without slots): 400.</summary>
    Unsupported,
}

/// <summary>
/// A load or unload the registry refused, with a message meant for the client (it names the adapter file and
/// field for a bad folder) and the request field at fault (<see cref="Param"/>, e.g. <c>lora_path</c>).
/// </summary>
public sealed class AdapterRejectedException(AdapterRejection reason, string message, string? param = null) : Exception(message)
{
    /// <summary>Why it was refused.</summary>
    public AdapterRejection Reason { get; } = reason;

    /// <summary>The body field at fault, or null.</summary>
    public string? Param { get; } = param;
}
