using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Flywheel.Server.OpenAi;

/// <summary>Reads a request body as JSON, turning every way it can be wrong into an OpenAI-shaped error.</summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <exception cref="OpenAiError">
    /// 415 missing or non-JSON content type, 413 too large, 400 malformed JSON, text that is not Unicode or a
    /// key given twice, Kestrel's own status for a body it refused (e.g. 408 for one arriving too slowly),
    /// 499 when the client left while sending it.
    /// </exception>
    public static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        // A missing type is refused too: without it a web page could post here as a CORS "simple request",
        // which browsers send without asking the server first.
        if (request.ContentType is not { Length: > 0 } contentType || !IsJson(contentType))
        {
            throw ServerErrors.UnsupportedMediaType(request.ContentType);
        }

        // Kestrel enforces the same limit while reading; checking the header first answers before the upload.
        if (request.ContentLength > maxBytes)
        {
            throw ServerErrors.BodyTooLarge(maxBytes);
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, DocumentOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw ServerErrors.InvalidJson(e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ServerErrors.BodyTooLarge(maxBytes);
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel refused the body itself (too slow: 408; bad chunked framing: 400). A client fault, not a bug.
            throw ServerErrors.BodyRefused(e.StatusCode, e.Message);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && cancellationToken.IsCancellationRequested)
        {
            throw ServerErrors.ClientGone();
        }

        try
        {
            JsonBodyCheck.Check(document.RootElement);
            return document;
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    private static bool IsJson(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Value is { } type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            || type.Equals("text/json", StringComparison.OrdinalIgnoreCase));
}
