namespace Flywheel.Serving;

/// <summary>Checks a tokenized prompt against the context length, as every backend's Prepare must.</summary>
public static class PromptLimits
{
    /// <summary>
    /// Returns the completion budget: the request's max_tokens, or what the context leaves after the prompt.
    /// </summary>
    /// <exception cref="RequestRejectedException">
    /// <see cref="RejectionReason.ContextLengthExceeded"/> when the prompt leaves no room, or prompt + max_tokens exceeds the context.
    /// </exception>
    public static int ResolveMaxTokens(int promptTokenCount, ApiRequest request, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(request);
        var what = request.IsChat ? "messages" : "prompt";
        if (promptTokenCount >= contextLength)
        {
            throw new RequestRejectedException(
                RejectionReason.ContextLengthExceeded,
                $"This model's maximum context length is {contextLength} tokens. However, your {what} resulted in " +
                $"{promptTokenCount} tokens, which leaves no room for a completion. Please reduce the length of the {what}.",
                what);
        }

        if (request.MaxTokens is not { } maxTokens)
        {
            return contextLength - promptTokenCount;
        }

        if ((long)promptTokenCount + maxTokens > contextLength)
        {
            throw new RequestRejectedException(
                RejectionReason.ContextLengthExceeded,
                $"This model's maximum context length is {contextLength} tokens. However, you requested " +
                $"{(long)promptTokenCount + maxTokens} tokens ({promptTokenCount} in the {what}, {maxTokens} in the completion). " +
                $"Please reduce the length of the {what} or the completion.",
                what);
        }

        return maxTokens;
    }
}
