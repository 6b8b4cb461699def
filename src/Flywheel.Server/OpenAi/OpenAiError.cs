using System.Text.Json.Serialization;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// A client-facing error in OpenAI's shape: <c>{"error":{"message","type","param","code"}}</c>,
/// with the HTTP status it is sent with.
/// </summary>
public sealed class OpenAiError : Exception
{
    public OpenAiError(int statusCode, string message, string type = "invalid_request_error", string? param = null, string? code = null)
        : base(message)
    {
        StatusCode = statusCode;
        Type = type;
        Param = param;
        Code = code;
    }

    public int StatusCode { get; }

    public string Type { get; }

    public string? Param { get; }

    public string? Code { get; }

    /// <summary>The JSON body to send.</summary>
    public ErrorEnvelope ToEnvelope() => new(new ErrorBody(Message, Type, Param, Code));

    public static OpenAiError BadRequest(string message, string? param = null, string? code = null) =>
        new(400, message, "invalid_request_error", param, code);

    public static OpenAiError NotFound(string message, string? param = null, string code = "not_found") =>
        new(404, message, "invalid_request_error", param, code);

    public sealed record ErrorEnvelope([property: JsonPropertyName("error")] ErrorBody Error);

    public sealed record ErrorBody(
        [property: JsonPropertyName("message")] string Message,
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("param")] string? Param,
        [property: JsonPropertyName("code")] string? Code);
}
