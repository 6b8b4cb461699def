using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Flywheel.Templates;

namespace Flywheel.Server.Tests.Serving;

public sealed class PromptTests
{
    private static readonly ApiRequest ChatRequest = new() { IsChat = true, Model = "m", Messages = [new ChatMessage("user", "hi")] };

    [Theory]
    [InlineData(10, null, 100, 90)]
    [InlineData(10, 90, 100, 90)]
    [InlineData(99, null, 100, 1)]
    public void ResolvesTheCompletionBudget(int promptTokens, int? maxTokens, int context, int expected) =>
        Assert.Equal(expected, PromptLimits.ResolveMaxTokens(promptTokens, ChatRequest with { MaxTokens = maxTokens }, context));

    [Theory]
    [InlineData(100, null)]
    [InlineData(10, 91)]
    [InlineData(10, int.MaxValue)]
    public void RefusesWhatDoesNotFit(int promptTokens, int? maxTokens)
    {
        // As the client sees it: the serving layer's refusal through the edge's mapping.
        var e = ServerErrors.Rejected(Assert.Throws<RequestRejectedException>(() => PromptLimits.ResolveMaxTokens(promptTokens, ChatRequest with { MaxTokens = maxTokens }, 100)));
        Assert.Equal((400, "context_length_exceeded", "messages"), (e.StatusCode, e.Code, e.Param));
    }

    [Fact]
    public void RendersChatThroughTheTemplateWithGenerationPrompt()
    {
        var template = ChatTemplate.Parse(
            "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}");
        Assert.Equal("<s>user: hi\nassistant: ", PromptText.Render(ChatRequest, template, "<s>"));
    }

    [Fact]
    public void CompletionPromptIsUsedAsIs() =>
        Assert.Equal("raw {{ text }}", PromptText.Render(new ApiRequest { IsChat = false, Model = "m", Prompt = "raw {{ text }}" }, ChatTemplate.Fallback));
}
