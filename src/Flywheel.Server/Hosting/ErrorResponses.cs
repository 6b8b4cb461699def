using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Flywheel.Server.Hosting;

/// <summary>
/// Makes every error the framework produces OpenAI-shaped: unknown routes (404), wrong methods (405),
/// Kestrel's own refusals (e.g. 413), and unhandled exceptions (500, logged by the middleware; the client
/// sees a generic message, never a stack trace).
/// </summary>
public static class ErrorResponses
{
    public static WebApplication UseOpenAiErrors(this WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = WriteExceptionAsync });
        app.UseStatusCodePages(context => WriteStatusAsync(context.HttpContext));
        return app;
    }

    private static Task WriteExceptionAsync(HttpContext http)
    {
        var error = http.Features.Get<IExceptionHandlerFeature>()?.Error switch
        {
            OpenAiError e => e,
            RequestRejectedException e => ServerErrors.Rejected(e),
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } => new OpenAiError(413, "The request body is too large.", code: "request_too_large"),
            BadHttpRequestException e => new OpenAiError(e.StatusCode, e.Message, code: "bad_request"),
            _ => ServerErrors.Internal(),
        };
        return OpenAiErrorResult.WriteAsync(http.Response, error);
    }

    // Runs only for bodiless error statuses, i.e. ones the framework set, never our own error results.
    private static Task WriteStatusAsync(HttpContext http)
    {
        var method = http.Request.Method;
        var path = http.Request.Path.Value ?? "/";
        var error = http.Response.StatusCode switch
        {
            StatusCodes.Status404NotFound => ServerErrors.UnknownUrl(method, path),
            StatusCodes.Status405MethodNotAllowed => ServerErrors.MethodNotAllowed(method, path),
            var status => new OpenAiError(status, $"The request failed with HTTP status {status}.", status >= 500 ? "server_error" : "invalid_request_error"),
        };
        return OpenAiErrorResult.WriteAsync(http.Response, error);
    }
}
