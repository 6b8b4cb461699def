using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Flywheel.Server.OpenAi;

/// <summary>Reads a request body as JSON, turning every way it can be wrong into an OpenAI-shaped error.</summary>
internal static class RequestBody
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    /// <exception cref="OpenAiError">415 non-JSON content type, 413 too large, 400 malformed JSON.</exception>
    public static async Task<JsonDocument> ReadJsonAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentType is { Length: > 0 } contentType && !IsJson(contentType))
        {
            throw ServerErrors.UnsupportedMediaType(contentType);
        }

        // Kestrel enforces the same limit while reading; checking the header first answers before the upload.
        if (request.ContentLength > maxBytes)
        {
            throw ServerErrors.BodyTooLarge(maxBytes);
        }

        try
        {
            return await JsonDocument.ParseAsync(request.Body, DocumentOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw ServerErrors.InvalidJson(e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ServerErrors.BodyTooLarge(maxBytes);
        }
    }

    private static bool IsJson(string contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media)
        && media.MediaType.Value is { } type
        && (type.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            || type.Equals("text/json", StringComparison.OrdinalIgnoreCase));
}
