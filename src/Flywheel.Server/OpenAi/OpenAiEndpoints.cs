using Flywheel.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;

namespace Flywheel.Server.OpenAi;

/// <summary>The OpenAI-compatible routes under <c>/v1</c>.</summary>
public static class OpenAiEndpoints
{
    public static IEndpointRouteBuilder MapOpenAiEndpoints(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapGet("/models", ListModels);
        v1.MapGet("/models/{**id}", GetModel); // catch-all: ids like "org/name" contain slashes
        v1.MapPost("/completions", Completions);
        v1.MapPost("/chat/completions", ChatCompletions);
        return app;
    }

    private static JsonHttpResult<ModelList> ListModels(ModelCatalog catalog) => TypedResults.Json(new ModelList(catalog.Cards()), OpenAiJson.Options);

    private static Results<JsonHttpResult<ModelCard>, OpenAiErrorResult> GetModel(string id, ModelCatalog catalog) =>
        catalog.Find(id) is { } card ? TypedResults.Json(card, OpenAiJson.Options) : new OpenAiErrorResult(ServerErrors.ModelNotFound(id));

    private static async Task<Results<JsonHttpResult<TextCompletion>, CompletionStreamResult, OpenAiErrorResult>> Completions(
        HttpContext http, GenerationGateway gateway)
    {
        var admission = await gateway.AdmitAsync(http, isChat: false);
        if (admission.Generation is not { } generation)
        {
            return admission.Error!;
        }

        if (generation.Request.Stream)
        {
            return new CompletionStreamResult(generation);
        }

        using (generation)
        {
            var (body, error) = await CompletionResponses.CompleteAsync(generation);
            return body is null ? new OpenAiErrorResult(error!) : TypedResults.Json(body, OpenAiJson.Options);
        }
    }

    private static async Task<Results<JsonHttpResult<ChatCompletion>, ChatStreamResult, OpenAiErrorResult>> ChatCompletions(
        HttpContext http, GenerationGateway gateway)
    {
        var admission = await gateway.AdmitAsync(http, isChat: true);
        if (admission.Generation is not { } generation)
        {
            return admission.Error!;
        }

        if (generation.Request.Stream)
        {
            return new ChatStreamResult(generation);
        }

        using (generation)
        {
            var (body, error) = await ChatResponses.CompleteAsync(generation);
            return body is null ? new OpenAiErrorResult(error!) : TypedResults.Json(body, OpenAiJson.Options);
        }
    }
}

/// <summary>The models this server serves, as <c>/v1/models</c> lists them: the base, then each loaded LoRA adapter.</summary>
internal sealed class ModelCatalog(IGenerationBackend backend)
{
    private readonly ModelCard _base = new(backend.ModelId, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), "flywheel", backend.ContextLength, backend.ModelId);

    public IReadOnlyList<ModelCard> Cards() => [_base, .. (backend.Adapters?.Loaded ?? []).Select(Card)];

    public ModelCard? Find(string id) =>
        id == _base.Id ? _base : backend.Adapters?.Find(id) is { } adapter ? Card(adapter) : null;

    /// <summary>An adapter's card as vLLM writes it: parent = the base's id, root = the folder it was loaded from.</summary>
    public ModelCard Card(Flywheel.Serving.Adapters.LoadedAdapter adapter) =>
        new(adapter.Name, adapter.Created, "flywheel", backend.ContextLength, adapter.Path, _base.Id);
}
