using Flywheel.Serving;
using Flywheel.Serving.Adapters;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Admits a generation request: readiness and drain checks, body parsing, model check (the base model's name, or
/// a loaded adapter's, which is then held until the response ends), Prepare, TrySubmit.
/// Every refusal is an OpenAI-shaped error; an admitted request comes back as a <see cref="Generation"/>.
/// </summary>
internal sealed class GenerationGateway(IGenerationBackend backend, RequestDrain drain, ServerOptions options, ILogger<GenerationGateway> logger)
{
    /// <summary>Either <paramref name="Generation"/> (caller disposes it) or <paramref name="Error"/>.</summary>
    public sealed record Admission(Generation? Generation, OpenAiErrorResult? Error);

    public async Task<Admission> AdmitAsync(HttpContext http, bool isChat)
    {
        if (!backend.IsReady)
        {
            return Refuse(ServerErrors.NotReady());
        }

        if (!drain.TryEnter())
        {
            return Refuse(ServerErrors.Draining());
        }

        RequestScope? scope = null;
        AdapterLease? lease = null;
        try
        {
            using var body = await RequestBody.ReadJsonAsync(http.Request, options.MaxRequestBodyBytes, http.RequestAborted).ConfigureAwait(false);
            var request = isChat ? OpenAiRequestParser.ParseChat(body.RootElement) : OpenAiRequestParser.ParseCompletion(body.RootElement);
            if (!string.Equals(request.Model, backend.ModelId, StringComparison.Ordinal))
            {
                // Held from here to the response's end, so an unload waits for this request (for a while).
                if (backend.Adapters is not { } adapters || !adapters.TryAcquire(request.Model, out lease))
                {
                    throw ServerErrors.ModelNotFound(request.Model);
                }

                request = request with { Adapter = lease.Adapter };
            }

            // The scope starts before Prepare: a schema compile is abandoned when the client leaves, the
            // request times out or the server drains, as generation is.
            scope = new RequestScope(http.RequestAborted, drain.AbortToken, options.RequestTimeout);
            PreparedPrompt prompt;
            try
            {
                prompt = await backend.PrepareAsync(request, scope.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (scope.Token.IsCancellationRequested)
            {
                throw scope.CauseError();
            }

            var submit = backend.TrySubmit(prompt, request, scope.Token);
            switch (submit.Status)
            {
                case SubmitStatus.Accepted:
                    var generation = new Generation(request, prompt, submit.Updates!, scope, drain, logger, lease);
                    (scope, lease) = (null, null);
                    return new Admission(generation, null);
                case SubmitStatus.QueueFull:
                    Release(scope, lease);
                    return Refuse(ServerErrors.QueueFull(submit.RetryAfterSeconds), submit.RetryAfterSeconds);
                default:
                    Release(scope, lease);
                    return Refuse(ServerErrors.Rejected(submit.Error!));
            }
        }
        catch (Exception e) when (e is OpenAiError or RequestRejectedException)
        {
            Release(scope, lease);
            var error = e as OpenAiError ?? ServerErrors.Rejected((RequestRejectedException)e);
            // A client's mistake is the client's news, not the operator's: debug, and never a stack trace.
            logger.LogDebug("Refused {Method} {Path}: {Status} {Code} (param {Param}): {Message}", http.Request.Method, http.Request.Path.Value, error.StatusCode, error.Code, error.Param, error.Message);
            return Refuse(error);
        }
        catch
        {
            Release(scope, lease);
            throw;
        }
    }

    private void Release(RequestScope? scope, AdapterLease? lease)
    {
        scope?.Dispose();
        lease?.Dispose();
        drain.Exit();
    }

    private static Admission Refuse(OpenAiError error, int? retryAfterSeconds = null) =>
        new(null, new OpenAiErrorResult(error, retryAfterSeconds));
}
