using Flywheel.Sampling;
using Flywheel.Serving;
using Flywheel.Serving.Adapters;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.OpenAi;

/// <summary>How a generation ended, as the response writers see it.</summary>
/// <param name="Finished">The backend's finish event (stop or length) when it succeeded.</param>
/// <param name="Error">What to tell the client otherwise.</param>
/// <param name="ClientGone">True when nobody is listening any more; write nothing.</param>
internal sealed record GenerationOutcome(Finished? Finished, OpenAiError? Error, bool ClientGone = false);

/// <summary>
/// An accepted request: its id, the update stream and its cancellation scope. Owns its slot in the drain
/// count and its hold on an adapter until disposed, so whoever writes the response disposes it when done.
/// </summary>
internal sealed class Generation : IDisposable
{
    private readonly IAsyncEnumerable<GenerationUpdate> _updates;
    private readonly RequestScope _scope;
    private readonly RequestDrain _drain;
    private readonly ILogger _logger;
    private readonly AdapterLease? _lease;
    private int _disposed;

    public Generation(ApiRequest request, PreparedPrompt prompt, IAsyncEnumerable<GenerationUpdate> updates, RequestScope scope, RequestDrain drain, ILogger logger, AdapterLease? lease = null)
    {
        _lease = lease;
        Request = request;
        Prompt = prompt;
        _updates = updates;
        _scope = scope;
        _drain = drain;
        _logger = logger;
        Id = (request.IsChat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        Created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public ApiRequest Request { get; }

    public PreparedPrompt Prompt { get; }

    /// <summary><c>chatcmpl-…</c> or <c>cmpl-…</c>.</summary>
    public string Id { get; }

    /// <summary>Unix seconds.</summary>
    public long Created { get; }

    /// <summary>Cancelled when the request must stop (client gone, timeout, shutdown).</summary>
    public CancellationToken Token => _scope.Token;

    /// <summary>
    /// Reads the update stream to its end, calling <paramref name="onText"/> for each non-empty text delta
    /// with the tokens behind it (tokens of empty deltas are carried over). Never throws: cancellation,
    /// backend failures and write failures all come back as an outcome. Pieces of tool calls go to
    /// <paramref name="onToolCall"/> (ignored when null: the finish event lists the calls too).
    /// </summary>
    public async Task<GenerationOutcome> RunAsync(Func<string, IReadOnlyList<GeneratedToken>, ValueTask> onText, Func<ToolCallDelta, ValueTask>? onToolCall = null)
    {
        List<GeneratedToken>? carried = null;
        try
        {
            await foreach (var update in _updates.WithCancellation(_scope.Token).ConfigureAwait(false))
            {
                switch (update)
                {
                    case TextDelta { Text.Length: 0 } delta:
                        (carried ??= []).AddRange(delta.Tokens);
                        break;
                    case TextDelta delta:
                        IReadOnlyList<GeneratedToken> tokens = delta.Tokens;
                        if (carried is { Count: > 0 })
                        {
                            carried.AddRange(delta.Tokens);
                            tokens = carried;
                            carried = null;
                        }

                        await onText(delta.Text, tokens).ConfigureAwait(false);
                        break;
                    case ToolCallDelta call:
                        if (onToolCall is not null)
                        {
                            await onToolCall(call).ConfigureAwait(false);
                        }

                        break;
                    case Finished { Reason: FinishReason.Stop or FinishReason.Length } finished:
                        return new GenerationOutcome(finished, null);
                    case Finished { Reason: FinishReason.Error } finished:
                        _logger.LogWarning("Request {Id} failed in the engine: {Message}", Id, finished.ErrorMessage);
                        return new GenerationOutcome(null, ServerErrors.EngineFailed(finished.ErrorMessage));
                    case Finished:
                        return Cancelled() ?? new GenerationOutcome(null, Request.Adapter is { IsUnloading: true } adapter
                            ? ServerErrors.AdapterUnloaded(adapter.Name) : ServerErrors.EngineAborted());
                }
            }

            _logger.LogError("Request {Id}: the backend's update stream ended without a finish event.", Id);
            return new GenerationOutcome(null, ServerErrors.Internal());
        }
        catch (Exception e) when (Cancelled() is { } outcome)
        {
            // The token fired (or the client vanished mid-write); the reason decides what to say.
            _logger.LogDebug(e, "Request {Id} cancelled: {Cause}", Id, _scope.Cause);
            return outcome;
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Request {Id} failed while streaming.", Id);
            return new GenerationOutcome(null, ServerErrors.Internal());
        }
    }

    private GenerationOutcome? Cancelled() => _scope.Cause switch
    {
        AbortCause.None => null,
        AbortCause.ClientGone => new GenerationOutcome(null, ServerErrors.ClientGone(), ClientGone: true),
        _ => new GenerationOutcome(null, _scope.CauseError()),
    };

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _scope.Dispose();
            _lease?.Dispose();
            _drain.Exit();
        }
    }
}
