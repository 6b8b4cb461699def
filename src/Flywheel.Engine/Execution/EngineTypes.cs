using System.Threading.Channels;
using Flywheel.Sampling;

namespace Flywheel.Execution;

/// <summary>A request for the engine: token ids in, tokens out.</summary>
public sealed record EngineRequest
{
    public required IReadOnlyList<int> PromptIds { get; init; }

    /// <summary>Most tokens to generate (capped by what the context leaves).</summary>
    public required int MaxTokens { get; init; }

    public SamplingParams Sampling { get; init; } = new();

    /// <summary>Keep generating past end-of-sequence tokens.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Extra token ids that end generation (besides the model's eos ids).</summary>
    public IReadOnlyCollection<int> StopTokenIds { get; init; } = [];

    /// <summary>
    /// Restricts the tokens this request may sample (structured output); null = unconstrained. The engine
    /// owns it after submission. The request stops (finish reason Stop) once the constraint is finished,
    /// and fails alone if the constraint ever allows no token.
    /// </summary>
    public ITokenConstraint? Constraint { get; init; }

    /// <summary>Cancelling aborts the request; its slot is freed on the next step.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>
    /// Cancelling ends the request with finish reason Stop on the next step (a stop string completed on the
    /// reading side); it takes precedence over <see cref="CancellationToken"/> when both are cancelled.
    /// </summary>
    public CancellationToken StopCancellationToken { get; init; }
}

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

/// <summary>The outcome of <see cref="LlmEngine.TrySubmit"/>.</summary>
public sealed record SubmitOutcome(long Id, ChannelReader<EngineEvent>? Events, string? Error, bool QueueFull)
{
    public bool Accepted => Events is not null;
}

/// <summary>
/// What one engine step did: tokens it fed, and the model Runs it took by kind (decode: decode rows alone;
/// chunk: a prompt chunk alone, or several first chunks right-padded into one; mixed: decodes and a chunk
/// in one Run of the mixed graph).
/// </summary>
public readonly record struct StepReport(int DecodeTokens, int ChunkTokens, int DecodeRuns, int ChunkRuns, int MixedRuns);
