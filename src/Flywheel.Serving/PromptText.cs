using Flywheel.Serving.Tools;
using Flywheel.Templates;

namespace Flywheel.Serving;

/// <summary>Turns a request into the prompt text a backend tokenizes.</summary>
public static class PromptText
{
    /// <summary>
    /// Completions: the prompt as sent. Chat: the messages rendered through <paramref name="template"/>
    /// with a generation prompt appended, and the request's tools as the template's <c>tools</c> (described in the
    /// system turn instead when the template never reads them; see <see cref="ToolPrompt"/>).
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
            var messages = request.Messages ?? [];
            Dictionary<string, object?>? extra = null;
            if (request.Tools.Count > 0)
            {
                if (ToolPrompt.TemplateReadsTools(template))
                {
                    extra = new() { ["tools"] = ToolPrompt.ForTemplate(request.Tools) };
                }
                else
                {
                    messages = ToolPrompt.WithSystemDescription(messages, request.Tools);
                }
            }

            return template.Render(messages, addGenerationPrompt: true, bosToken, eosToken, extra);
        }
        catch (TemplateException e)
        {
            // Whatever the cause, it is this conversation the template cannot render; the message says why
            // (for raise_exception it is the template author's own words).
            throw new RequestRejectedException(RejectionReason.ChatTemplate, $"The chat template could not render these messages: {e.Message}", "messages");
        }
    }
}
