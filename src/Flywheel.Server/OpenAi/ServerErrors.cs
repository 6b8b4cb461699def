using Flywheel.Serving;

namespace Flywheel.Server.OpenAi;

/// <summary>The server-side errors clients can get, in one place so messages and codes stay consistent.</summary>
internal static class ServerErrors
{
    public static OpenAiError Internal() =>
        new(500, "The server had an error while processing your request.", "server_error", null, "internal_error");

    public static OpenAiError EngineFailed(string? message) =>
        new(500, $"The engine failed while generating: {message ?? "unknown error"}", "server_error", null, "engine_error");

    public static OpenAiError EngineAborted() =>
        new(503, "The engine aborted the request.", "server_error", null, "aborted");

    public static OpenAiError AdapterUnloaded(string name) =>
        new(503, $"The adapter `{name}` was unloaded while the request ran; the request was aborted.", "server_error", null, "adapter_unloaded");

    public static OpenAiError NotReady() =>
        new(503, "The model is still loading; retry shortly.", "server_error", null, "model_loading");

    public static OpenAiError Draining() =>
        new(503, "The server is shutting down and accepts no new requests.", "server_error", null, "server_shutdown");

    public static OpenAiError ShutdownAbort() =>
        new(503, "The server is shutting down; the request was aborted.", "server_error", null, "server_shutdown");

    public static OpenAiError Timeout(TimeSpan limit) =>
        new(504, $"The request did not finish within the server's limit of {limit.TotalSeconds:0.###} s and was aborted.", "timeout_error", null, "request_timeout");

    // Never reaches anyone (the connection is gone); 499 is nginx's "client closed request".
    public static OpenAiError ClientGone() =>
        new(499, "The client closed the request.", "invalid_request_error", null, "client_closed_request");

    public static OpenAiError QueueFull(int retryAfterSeconds) =>
        new(429, $"The server is at capacity (its request queue is full); retry after {retryAfterSeconds} s.", "rate_limit_error", null, "queue_full");

    /// <summary>The serving layer refused the request as asked: a 400 whose code says why (404 for a model no longer served).</summary>
    public static OpenAiError Rejected(RequestRejectedException rejected) => rejected.Reason == RejectionReason.ModelNotFound
        ? new(404, rejected.Message, "invalid_request_error", rejected.Param, "model_not_found")
        : OpenAiError.BadRequest(rejected.Message, rejected.Param, rejected.Reason switch
        {
            RejectionReason.ChatTemplate => "chat_template_error",
            RejectionReason.ContextLengthExceeded => "context_length_exceeded",
            RejectionReason.UnsupportedSchema => "unsupported_schema",
            _ => null, // an empty prompt, or a value the engine refuses: the message says which
        });

    /// <summary>A load or unload of a LoRA adapter the registry refused.</summary>
    public static OpenAiError AdapterRefused(Flywheel.Serving.Adapters.AdapterRejectedException rejected) => rejected.Reason switch
    {
        Flywheel.Serving.Adapters.AdapterRejection.NotFound => new(404, rejected.Message, "invalid_request_error", rejected.Param, "model_not_found"),
        Flywheel.Serving.Adapters.AdapterRejection.NoFreeSlot => new(409, rejected.Message, "invalid_request_error", rejected.Param, "adapter_slots_full"),
        Flywheel.Serving.Adapters.AdapterRejection.NameTaken => OpenAiError.BadRequest(rejected.Message, rejected.Param, "adapter_already_loaded"),
        Flywheel.Serving.Adapters.AdapterRejection.Unsupported => OpenAiError.BadRequest(rejected.Message, rejected.Param, "adapters_unsupported"),
        _ => OpenAiError.BadRequest(rejected.Message, rejected.Param, "invalid_adapter"),
    };

    public static OpenAiError ModelNotFound(string model) =>
        new(404, $"The model `{model}` does not exist.", "invalid_request_error", "model", "model_not_found");

    public static OpenAiError InvalidJson(string detail) =>
        OpenAiError.BadRequest($"The request body is not valid JSON: {detail}", null, "invalid_json");

    public static OpenAiError BodyTooLarge(long limit) =>
        new(413, $"The request body is larger than the server's limit of {limit} bytes.", "invalid_request_error", null, "request_too_large");

    public static OpenAiError UnsupportedMediaType(string? contentType) =>
        new(415, contentType is null ? "Content-Type must be application/json; the request has none." : $"Content-Type must be application/json; got '{contentType}'.", "invalid_request_error", null, "unsupported_media_type");

    /// <summary>Kestrel refused the request body while it was read (e.g. 408 for one arriving too slowly).</summary>
    public static OpenAiError BodyRefused(int statusCode, string detail) =>
        new(statusCode, $"The request body was refused: {detail}", "invalid_request_error", null, KestrelStatusCode(statusCode));

    /// <summary>The <c>code</c> for a status the HTTP server produces itself.</summary>
    public static string KestrelStatusCode(int statusCode) => statusCode switch
    {
        400 => "bad_request",
        408 => "request_timeout",
        411 => "length_required",
        413 => "request_too_large",
        414 => "uri_too_long",
        431 => "request_header_fields_too_large",
        505 => "http_version_not_supported",
        _ => "http_" + statusCode,
    };

    public static OpenAiError UnknownUrl(string method, string path) =>
        new(404, $"Invalid URL ({method} {path}).", "invalid_request_error", null, "unknown_url");

    public static OpenAiError MethodNotAllowed(string method, string path) =>
        new(405, $"Method {method} is not allowed for {path}.", "invalid_request_error", null, "method_not_allowed");
}
