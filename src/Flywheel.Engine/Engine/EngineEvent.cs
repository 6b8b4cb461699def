using Flywheel.Sampling;

namespace Flywheel.Execution;

/// <summary>An event of a request's output stream.</summary>
public abstract record EngineEvent;

/// <summary>A generated token. The stop token that ends a request is reported too (callers usually do not print it).</summary>
public sealed record TokenEvent(SampledToken Token, bool IsStopToken) : EngineEvent;

/// <summary>The last event: why it ended, token counts, and timings in seconds.</summary>
public sealed record FinishEvent(
    FinishReason Reason,
    int PromptTokenCount,
    int CompletionTokenCount,
    double QueueSeconds,
    double TimeToFirstTokenSeconds,
    double EndToEndSeconds,
    string? Error = null) : EngineEvent;
