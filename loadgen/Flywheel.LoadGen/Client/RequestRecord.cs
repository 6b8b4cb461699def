using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Client;

/// <summary>
/// What happened to one request. Times are in seconds; <see cref="StartSeconds"/> is measured from
/// the start of the whole run, the others from the moment the request was sent.
/// </summary>
public sealed record RequestRecord
{
    public required int Index { get; init; }

    /// <summary>Phase of the run (0 for a plain run; the sweep step otherwise).</summary>
    public int Step { get; init; }

    /// <summary>Sent during warm-up: written to requests.csv, left out of every statistic.</summary>
    public bool IsWarmup { get; init; }

    public required double StartSeconds { get; init; }

    public required bool Success { get; init; }

    /// <summary>Why it failed, e.g. "http_500", "http_429", "connection_error", "timeout", "stream_error"; null on success.</summary>
    public string? ErrorKind { get; init; }

    /// <summary>HTTP status of the response, when one arrived.</summary>
    public int? HttpStatus { get; init; }

    /// <summary>Server's error message or the exception's, shortened; null on success.</summary>
    public string? ErrorMessage { get; init; }

    public required ApiEndpoint Endpoint { get; init; }

    /// <summary>The model the request named, in a <c>--models</c> run; null when the run sends one model.</summary>
    public string? Model { get; init; }

    public bool IsStructured { get; init; }

    /// <summary>Prompt tokens as planned by the generator's counter (no template).</summary>
    public required int PlannedPromptTokens { get; init; }

    public required int PlannedOutputTokens { get; init; }

    /// <summary>usage.prompt_tokens from the server (includes the chat template), when it sent usage.</summary>
    public int? PromptTokens { get; init; }

    /// <summary>usage.completion_tokens, or the number of content chunks when the server sent no usage.</summary>
    public int OutputTokens { get; init; }

    /// <summary>Time to the first chunk with content (streaming), or the whole latency (not streaming).</summary>
    public double? TtftSeconds { get; init; }

    /// <summary>Send to the end of the response (or the failure).</summary>
    public required double E2eSeconds { get; init; }

    /// <summary>Every gap between consecutive content chunks, in order.</summary>
    public IReadOnlyList<double> ItlSeconds { get; init; } = [];

    /// <summary>Number of SSE chunks that carried content.</summary>
    public int ContentChunkCount { get; init; }

    /// <summary>Time per output token after the first: (e2e - ttft) / (output - 1), as vLLM defines it; null for fewer than 2 tokens.</summary>
    public double? TpotSeconds =>
        TtftSeconds is { } ttft && OutputTokens > 1 ? (E2eSeconds - ttft) / (OutputTokens - 1) : null;

    public double EndSeconds => StartSeconds + E2eSeconds;

    /// <summary>Prompt tokens as the server counted them, else as planned.</summary>
    public int EffectivePromptTokens => PromptTokens ?? PlannedPromptTokens;
}
