using Flywheel.Templates;

namespace Flywheel.Serving;

/// <summary>Turns a request into the prompt text a backend tokenizes.</summary>
public static class PromptText
{
    /// <summary>
    /// Completions: the prompt as sent. Chat: the messages rendered through <paramref name="template"/>
    /// with a generation prompt appended.
    /// </summary>
    /// <exception cref="RequestRejectedException">When the template refuses the conversation (e.g. roles not alternating).</exception>
    public static string Render(ApiRequest request, ChatTemplate template, string? bosToken = null, string? eosToken = null)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(template);
        if (!request.IsChat)
        {
            return request.Prompt ?? "";
        }

        try
        {
            return template.Render(request.Messages ?? [], addGenerationPrompt: true, bosToken, eosToken);
        }
        catch (TemplateException e)
        {
            // Whatever the cause, it is this conversation the template cannot render; the message says why
            // (for raise_exception it is the template author's own words).
            throw new RequestRejectedException(RejectionReason.ChatTemplate, $"The chat template could not render these messages: {e.Message}", "messages");
        }
    }
}
