namespace Flywheel.Sampling;

/// <summary>Why a request stopped generating: one vocabulary from the engine to the API (finish_reason "stop", "length", ...).</summary>
public enum FinishReason
{
    /// <summary>An end-of-sequence or stop token, a stop string, or a finished response format ("stop").</summary>
    Stop,

    /// <summary>max_tokens or the context length ("length").</summary>
    Length,

    /// <summary>Aborted (cancelled, or the engine shut down).</summary>
    Abort,

    /// <summary>A step failed for this request.</summary>
    Error,
}
