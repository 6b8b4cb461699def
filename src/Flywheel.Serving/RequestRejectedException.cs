namespace Flywheel.Serving;

/// <summary>Why the serving layer refused a request; the edge turns each into its own error code and status.</summary>
public enum RejectionReason
{
    /// <summary>The prompt tokenized to nothing.</summary>
    EmptyPrompt,

    /// <summary>The chat template refused the conversation (e.g. roles not alternating).</summary>
    ChatTemplate,

    /// <summary>The prompt leaves no room in the context, or prompt + max_tokens exceeds it.</summary>
    ContextLengthExceeded,

    /// <summary>The response_format schema uses what cannot be enforced exactly, or exceeds the compile budget.</summary>
    UnsupportedSchema,

    /// <summary>The engine refused the request as invalid (its own checks, e.g. a sampling value).</summary>
    EngineRefused,

    /// <summary>max_tokens (or the room the context leaves) is below the response format's shortest valid answer.</summary>
    MaxTokensTooSmall,

    /// <summary>The model (an adapter's name) is not served, e.g. its adapter was unloaded: 404.</summary>
    ModelNotFound,
}

/// <summary>
/// The client asked for something the serving layer cannot serve as asked: a mistake of the request, never
/// of the server. Carries the request field at fault (<see cref="Param"/>, in the API's spelling, e.g.
/// <c>messages</c>) and a message meant for the client; the edge decides how it is sent.
/// </summary>
public sealed class RequestRejectedException(RejectionReason reason, string message, string? param = null) : Exception(message)
{
    public RejectionReason Reason { get; } = reason;

    /// <summary>The request field at fault, or null when it is the request as a whole.</summary>
    public string? Param { get; } = param;
}
