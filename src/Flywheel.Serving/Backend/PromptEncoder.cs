using Flywheel.Templates;
using Flywheel.Tokenization;

namespace Flywheel.Serving.Backend;

/// <summary>
/// A request to the prompt's token ids and its completion budget: the chat template for chat, the raw
/// prompt otherwise, then the context-length check. Runs on request threads (stateless, thread-safe).
/// </summary>
internal sealed class PromptEncoder(Tokenizer tokenizer, int contextLength)
{
    private readonly ChatTemplate _template = tokenizer.ChatTemplate is { } source ? ChatTemplate.Parse(source) : ChatTemplate.Fallback;

    /// <summary>The prompt's ids and the resolved max_tokens.</summary>
    /// <exception cref="RequestRejectedException">The prompt is empty, the template refuses it, or it does not fit the context.</exception>
    public (int[] Ids, int MaxNewTokens) Prepare(ApiRequest request)
    {
        var ids = Encode(request);
        return (ids, PromptLimits.ResolveMaxTokens(ids.Length, request, contextLength));
    }

    private int[] Encode(ApiRequest request)
    {
        var ids = request.IsChat
            ? tokenizer.Encode(PromptText.Render(request, _template, tokenizer.BosToken, tokenizer.EosToken))
            : tokenizer.EncodePrompt(request.Prompt ?? "");
        if (ids.Length == 0)
        {
            throw new RequestRejectedException(RejectionReason.EmptyPrompt, "The prompt is empty.", request.IsChat ? "messages" : "prompt");
        }

        return ids;
    }
}
