using System.Diagnostics;
using System.Text.Json;
using Flywheel.LoadGen.Workload;

namespace Flywheel.LoadGen.Client;

/// <summary>
/// Collects the timings and counts of one request while its response arrives; owned by the one
/// task that sends the request. Becomes an immutable <see cref="RequestRecord"/> at the end.
/// </summary>
internal sealed class RequestMeasurement(RequestPlan plan, long sentTimestamp)
{
    private readonly List<double> _itlSeconds = [];
    private long _lastContentTimestamp;
    private long? _completedTimestamp;

    public string? ErrorKind { get; private set; }
    public bool Failed => ErrorKind is not null;
    public int? HttpStatus { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public double? TtftSeconds { get; set; }
    public int ContentChunkCount { get; private set; }

    private string? ErrorMessage { get; set; }

    /// <summary>Records the first failure only: later ones are consequences of it.</summary>
    public void Fail(string kind, string? message)
    {
        if (ErrorKind is null)
        {
            ErrorKind = kind;
            ErrorMessage = message is { Length: > 300 } ? message[..300] + "..." : message;
        }
    }

    /// <summary>A chunk with content arrived at <paramref name="timestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void OnContent(long timestamp)
    {
        if (ContentChunkCount == 0)
        {
            TtftSeconds = Stopwatch.GetElapsedTime(sentTimestamp, timestamp).TotalSeconds;
        }
        else
        {
            _itlSeconds.Add(Stopwatch.GetElapsedTime(_lastContentTimestamp, timestamp).TotalSeconds);
        }
        _lastContentTimestamp = timestamp;
        ContentChunkCount++;
    }

    /// <summary>
    /// The whole response had arrived at <paramref name="timestamp"/>: the request's end, so that what the client
    /// does with the response afterwards (parsing it) counts in no latency.
    /// </summary>
    public void OnComplete(long timestamp) => _completedTimestamp = timestamp;

    /// <summary>Reads an OpenAI "usage" object when present.</summary>
    public void ReadUsage(JsonElement root)
    {
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            if (usage.TryGetProperty("prompt_tokens", out var p) && p.TryGetInt32(out var prompt))
            {
                PromptTokens = prompt;
            }
            if (usage.TryGetProperty("completion_tokens", out var c) && c.TryGetInt32(out var completion))
            {
                CompletionTokens = completion;
            }
        }
    }

    /// <summary>The request's record; it ended at <paramref name="endTimestamp"/> unless <see cref="OnComplete"/> said earlier.</summary>
    public RequestRecord ToRecord(int step, bool isWarmup, double startSeconds, long endTimestamp) => new()
    {
        Index = plan.Index,
        Step = step,
        IsWarmup = isWarmup,
        StartSeconds = startSeconds,
        Success = !Failed,
        ErrorKind = ErrorKind,
        HttpStatus = HttpStatus,
        ErrorMessage = ErrorMessage,
        Endpoint = plan.Endpoint,
        Model = plan.Model,
        IsStructured = plan.IsStructured,
        PlannedPromptTokens = plan.PromptTokenCount,
        PlannedOutputTokens = plan.MaxTokens,
        PromptTokens = PromptTokens,
        OutputTokens = CompletionTokens ?? ContentChunkCount,
        TtftSeconds = TtftSeconds,
        E2eSeconds = Stopwatch.GetElapsedTime(sentTimestamp, _completedTimestamp ?? endTimestamp).TotalSeconds,
        ItlSeconds = _itlSeconds.ToArray(),
        ContentChunkCount = ContentChunkCount,
    };
}
