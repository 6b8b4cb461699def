using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Sends an <see cref="OpenAiError"/> as <c>{"error":{...}}</c> with its status code, plus Retry-After when given.
/// </summary>
public sealed class OpenAiErrorResult(OpenAiError error, int? retryAfterSeconds = null) : IResult, IStatusCodeHttpResult, IValueHttpResult, IValueHttpResult<OpenAiError.ErrorEnvelope>
{
    public OpenAiError Error { get; } = error;

    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public int StatusCode => Error.StatusCode;

    int? IStatusCodeHttpResult.StatusCode => Error.StatusCode;

    public OpenAiError.ErrorEnvelope Value => Error.ToEnvelope();

    object? IValueHttpResult.Value => Value;

    public Task ExecuteAsync(HttpContext httpContext) => WriteAsync(httpContext.Response, Error, RetryAfterSeconds);

    /// <summary>Writes the error unless the response has already started.</summary>
    public static async Task WriteAsync(HttpResponse response, OpenAiError error, int? retryAfterSeconds = null)
    {
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = error.StatusCode;
        if (retryAfterSeconds is { } seconds)
        {
            response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        }

        response.ContentType = "application/json";
        await System.Text.Json.JsonSerializer.SerializeAsync(response.Body, error.ToEnvelope(), OpenAiJson.Options, CancellationToken.None).ConfigureAwait(false);
    }
}
