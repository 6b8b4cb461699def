using Flywheel.Serving;
using Microsoft.AspNetCore.Http;

namespace Flywheel.Server.OpenAi;

/// <summary>
/// Streams a generation as server-sent events: an optional opening chunk, one chunk per text delta, a chunk
/// carrying the finish reason, the usage chunk when <c>stream_options.include_usage</c>, then <c>[DONE]</c>.
/// If generation fails after the header was sent, an <c>{"error":...}</c> event replaces the finish chunk.
/// Owns (and disposes) the generation.
/// </summary>
internal abstract class StreamResult<TChunk>(Generation generation) : IResult
    where TChunk : class
{
    protected Generation Generation { get; } = generation;

    protected bool WantsLogprobs => Generation.Request.TopLogprobs is not null;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        using var owned = Generation;
        var sse = new SseWriter(httpContext.Response);
        try
        {
            await sse.StartAsync();
            if (Opening() is { } opening)
            {
                await sse.WriteAsync(opening);
            }

            var outcome = await Generation.RunAsync(
                async (text, tokens) => await sse.WriteAsync(Delta(text, tokens)),
                async call =>
                {
                    if (ToolCall(call) is { } chunk)
                    {
                        await sse.WriteAsync(chunk);
                    }
                });
            if (outcome.ClientGone)
            {
                return;
            }

            if (outcome.Finished is { } finished)
            {
                await sse.WriteAsync(Final(FinishReasons.Name(finished), StructuredOutputInfo.From(finished.Structured)));
                if (Generation.Request.IncludeUsage)
                {
                    await sse.WriteAsync(UsageOnly(FinishReasons.Usage(finished)));
                }
            }
            else
            {
                await sse.WriteErrorAsync(outcome.Error!);
            }

            await sse.WriteDoneAsync();
        }
        catch (Exception) when (httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client left while we were writing; Generation.RunAsync already aborted the backend side.
        }
    }

    /// <summary>The chunk sent before any text (chat: the assistant role), or null.</summary>
    protected abstract TChunk? Opening();

    protected abstract TChunk Delta(string text, IReadOnlyList<GeneratedToken> tokens);

    /// <summary>The chunk for a piece of a tool call, or null where the API has none (completions).</summary>
    protected virtual TChunk? ToolCall(ToolCallDelta call) => null;

    /// <summary>The chunk carrying the finish reason (and, for response_format requests, the structured-output report).</summary>
    protected abstract TChunk Final(string finishReason, StructuredOutputInfo? structured);

    /// <summary>The include_usage chunk: no choices, just usage.</summary>
    protected abstract TChunk UsageOnly(Usage usage);
}

/// <summary><c>chat.completion.chunk</c> events.</summary>
internal sealed class ChatStreamResult(Generation generation) : StreamResult<ChatCompletionChunk>(generation)
{
    protected override ChatCompletionChunk Opening() => Chunk(new ChatDelta("assistant", ""), null, null);

    protected override ChatCompletionChunk Delta(string text, IReadOnlyList<GeneratedToken> tokens) =>
        Chunk(new ChatDelta(null, text), WantsLogprobs ? LogprobsBuilder.Chat(tokens) : null, null);

    protected override ChatCompletionChunk ToolCall(ToolCallDelta call) =>
        Chunk(new ChatDelta(null, null)
        {
            ToolCalls = [new ToolCallDeltaBody(call.Index, call.Id, call.Id is null ? null : "function", new ToolCallDeltaFunction(call.Name, call.Arguments))],
        }, null, null);

    protected override ChatCompletionChunk Final(string finishReason, StructuredOutputInfo? structured) =>
        Chunk(new ChatDelta(null, null), null, finishReason) with { StructuredOutput = structured };

    protected override ChatCompletionChunk UsageOnly(Usage usage) =>
        new(Generation.Id, Generation.Created, Generation.Request.Model, [], usage);

    private ChatCompletionChunk Chunk(ChatDelta delta, ChatLogprobs? logprobs, string? finishReason) =>
        new(Generation.Id, Generation.Created, Generation.Request.Model, [new ChatChunkChoice(0, delta, logprobs, finishReason)], null)
        {
            WriteNullUsage = Generation.Request.IncludeUsage,
        };
}

/// <summary><c>text_completion</c> events (the legacy completions stream).</summary>
internal sealed class CompletionStreamResult(Generation generation) : StreamResult<TextCompletion>(generation)
{
    private int _textOffset;

    protected override TextCompletion? Opening() => null;

    protected override TextCompletion Delta(string text, IReadOnlyList<GeneratedToken> tokens) =>
        Chunk(text, WantsLogprobs ? LogprobsBuilder.Completion(tokens, ref _textOffset) : null, null);

    protected override TextCompletion Final(string finishReason, StructuredOutputInfo? structured) =>
        Chunk("", null, finishReason) with { StructuredOutput = structured };

    protected override TextCompletion UsageOnly(Usage usage) =>
        new(Generation.Id, Generation.Created, Generation.Request.Model, [], usage);

    private TextCompletion Chunk(string text, CompletionLogprobs? logprobs, string? finishReason) =>
        new(Generation.Id, Generation.Created, Generation.Request.Model, [new CompletionChoice(text, 0, logprobs, finishReason)], null)
        {
            WriteNullUsage = Generation.Request.IncludeUsage,
        };
}
