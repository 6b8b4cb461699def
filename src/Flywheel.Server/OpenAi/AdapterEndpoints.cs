using System.Text.Json;
using Flywheel.Serving;
using Flywheel.Serving.Adapters;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// vLLM's runtime LoRA API: <c>POST /v1/load_lora_adapter {"lora_name", "lora_path"}</c> and
/// <c>POST /v1/unload_lora_adapter {"lora_name"}</c>. Mapped only with <see cref="ServerOptions.AllowRuntimeLora"/>;
/// under <c>/v1</c>, so the API key guards them like every other route.
/// </summary>
public static class AdapterEndpoints
{
    /// <summary>Longest adapter name accepted (it becomes a model id and a metric label value).</summary>
    public const int MaxNameLength = 256;

    public static IEndpointRouteBuilder MapAdapterEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/load_lora_adapter", LoadAsync);
        v1.MapPost("/unload_lora_adapter", UnloadAsync);
        return app;
    }

    private static async Task<Results<JsonHttpResult<ModelCard>, OpenAiErrorResult>> LoadAsync(
        HttpContext http, IGenerationBackend backend, ModelCatalog catalog, ServerOptions options, ILoggerFactory loggers)
    {
        try
        {
            var adapters = Registry(backend);
            using var body = await RequestBody.ReadJsonAsync(http.Request, options.MaxRequestBodyBytes, http.RequestAborted);
            var name = Name(body.RootElement);
            var path = RequiredString(body.RootElement, "lora_path");
            var adapter = await adapters.LoadAsync(name, path);
            loggers.CreateLogger(typeof(AdapterEndpoints)).LogInformation("Loaded LoRA adapter {Name} from {Path} into slot {Slot}", name, path, adapter.Slot);
            return TypedResults.Json(catalog.Card(adapter), OpenAiJson.Options);
        }
        catch (Exception e) when (Refusal(e) is { } error)
        {
            return new OpenAiErrorResult(error);
        }
    }

    private static async Task<Results<JsonHttpResult<DeletedModel>, OpenAiErrorResult>> UnloadAsync(
        HttpContext http, IGenerationBackend backend, ServerOptions options, ILoggerFactory loggers)
    {
        try
        {
            var adapters = Registry(backend);
            using var body = await RequestBody.ReadJsonAsync(http.Request, options.MaxRequestBodyBytes, http.RequestAborted);
            var name = Name(body.RootElement);
            // Not tied to the client's connection: once begun, an unload finishes (the name is already gone).
            await adapters.UnloadAsync(name);
            loggers.CreateLogger(typeof(AdapterEndpoints)).LogInformation("Unloaded LoRA adapter {Name}", name);
            return TypedResults.Json(new DeletedModel(name), OpenAiJson.Options);
        }
        catch (Exception e) when (Refusal(e) is { } error)
        {
            return new OpenAiErrorResult(error);
        }
    }

    private static AdapterRegistry Registry(IGenerationBackend backend) =>
        backend.Adapters ?? throw ServerErrors.AdapterRefused(new AdapterRejectedException(AdapterRejection.Unsupported, "This server's backend serves no adapters."));

    private static OpenAiError? Refusal(Exception e) => e switch
    {
        OpenAiError error => error,
        AdapterRejectedException rejected => ServerErrors.AdapterRefused(rejected),
        _ => null,
    };

    private static string Name(JsonElement body)
    {
        var name = RequiredString(body, "lora_name");
        if (name.Length > MaxNameLength || name.Any(char.IsControl) || name.Trim() != name)
        {
            throw OpenAiError.BadRequest($"'lora_name' must be at most {MaxNameLength} characters, without control characters or surrounding spaces.", "lora_name", "invalid_value");
        }

        return name;
    }

    private static string RequiredString(JsonElement body, string field)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw OpenAiError.BadRequest($"The request body must be a JSON object with '{field}'.", null, "invalid_type");
        }

        if (!body.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw OpenAiError.BadRequest($"'{field}' is required.", field, "missing_required_parameter");
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw OpenAiError.BadRequest($"'{field}' must be a string; got {value.ValueKind.ToString().ToLowerInvariant()}.", field, "invalid_type");
        }

        var text = value.GetString()!;
        return text.Length > 0 ? text : throw OpenAiError.BadRequest($"'{field}' must not be empty.", field, "invalid_value");
    }
}

/// <summary>What an unload answers (the shape of OpenAI's model deletion).</summary>
public sealed record DeletedModel([property: System.Text.Json.Serialization.JsonPropertyName("id")] string Id)
{
    [System.Text.Json.Serialization.JsonPropertyName("object")]
    public string Object => "model";

    [System.Text.Json.Serialization.JsonPropertyName("deleted")]
    public bool Deleted => true;
}
