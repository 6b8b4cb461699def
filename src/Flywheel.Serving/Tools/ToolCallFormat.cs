namespace Flywheel.Serving.Tools;

/// <summary>How a model family writes a call when it may also answer in text (<c>tool_choice: auto</c>).</summary>
public enum ToolCallFormat
{
    /// <summary>
    /// Qwen, Hermes and the templates that copy them: each call is <c>&lt;tool_call&gt;{"name": ..., "arguments": {...}}&lt;/tool_call&gt;</c>,
    /// after any text. Also the default for templates that name no format (the built-in models').
    /// </summary>
    HermesTags,

    /// <summary>
    /// Llama 3.1-3.3 JSON tool calling: the whole answer is <c>{"name": ..., "parameters": {...}}</c>
    /// (optionally after <c>&lt;|python_tag|&gt;</c>, several separated by <c>;</c>).
    /// </summary>
    Llama3Json,
}

/// <summary>Picks a family's call format from its chat template's text.</summary>
public static class ToolCallFormats
{
    /// <summary>
    /// <see cref="ToolCallFormat.HermesTags"/> when the template mentions <c>&lt;tool_call&gt;</c>; Llama-3 JSON when
    /// it asks for <c>"parameters"</c> in Llama's words or uses <c>&lt;|python_tag|&gt;</c> or the <c>ipython</c> role;
    /// Hermes tags otherwise (an explicit marker, so text is never mistaken for a call).
    /// </summary>
    public static ToolCallFormat Detect(string? templateSource)
    {
        if (templateSource is null || templateSource.Contains("<tool_call>", StringComparison.Ordinal))
        {
            return ToolCallFormat.HermesTags;
        }

        return templateSource.Contains("<|python_tag|>", StringComparison.Ordinal)
            || templateSource.Contains("ipython", StringComparison.Ordinal)
            || templateSource.Contains("\"parameters\": dictionary", StringComparison.Ordinal)
            ? ToolCallFormat.Llama3Json
            : ToolCallFormat.HermesTags;
    }
}
