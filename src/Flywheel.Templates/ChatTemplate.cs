namespace Flywheel.Templates;

/// <summary>
/// A Hugging Face chat template (the Jinja <c>chat_template</c> of tokenizer_config.json), parsed once and
/// rendered per request into the prompt text. Rendering follows Python Jinja as transformers configures it
/// (trim_blocks, lstrip_blocks, loop controls, immutable sandbox, its tojson/raise_exception/strftime_now),
/// so prompts match what the model was trained with. Instances are immutable and thread-safe.
/// </summary>
/// <remarks>
/// Supported: text, <c>{{ }}</c>, <c>{% %}</c>, <c>{# #}</c>, whitespace control (-, +), raw; if/elif/else,
/// for (loop.*, tuple unpacking, inline if filter, else, break/continue), set (incl. block set and
/// namespace attributes), macro, filter blocks, generation blocks. Not supported (syntax error):
/// include, extends, block, import, from, with, call, do, autoescape, recursive loops, *args/**kwargs.
/// </remarks>
public sealed class ChatTemplate
{
    private const string FallbackSource =
        "{% for message in messages %}{{ message.role }}: {{ message.content }}\n{% endfor %}" +
        "{% if add_generation_prompt %}assistant: {% endif %}";

    private readonly SourceText _source;
    private readonly Stmt[] _body;

    private ChatTemplate(string source)
    {
        Source = source;
        _source = new SourceText(source);
        _body = TemplateParser.Parse(_source);
    }

    /// <summary>
    /// The plain format for models without a chat template: one line <c>"{role}: {content}\n"</c> per
    /// message, then <c>"assistant: "</c> when a generation prompt is asked for. No special tokens are added
    /// (not even bos_token); the tokenizer's own settings decide those.
    /// </summary>
    public static ChatTemplate Fallback { get; } = new(FallbackSource);

    /// <summary>The template text as given to <see cref="Parse"/>.</summary>
    public string Source { get; }

    /// <summary>Parses a template.</summary>
    /// <exception cref="TemplateSyntaxException">The source is not valid; the message names line and column.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source);
    }

    /// <summary>
    /// Renders the prompt for a conversation. The template sees <c>messages</c>, <c>add_generation_prompt</c>,
    /// <c>bos_token</c> and <c>eos_token</c> (only when given), <c>tools</c> and <c>documents</c> (none unless
    /// <paramref name="extra"/> sets them), and every entry of <paramref name="extra"/> (which may override the
    /// others), e.g. <c>tools</c> as JsonElement or <c>enable_thinking</c> as bool.
    /// </summary>
    /// <exception cref="TemplateException">
    /// The template raised an error (<see cref="TemplateException.RaisedByTemplate"/>, e.g. roles not
    /// alternating), a type error occurred, an extra value has an unsupported type, or a limit was hit
    /// (16 Mi characters of output, 64 nested macro calls, a million loop iterations).
    /// </exception>
    public string Render(
        IReadOnlyList<ChatMessage> messages,
        bool addGenerationPrompt,
        string? bosToken = null,
        string? eosToken = null,
        IReadOnlyDictionary<string, object?>? extra = null) =>
        Render(messages, addGenerationPrompt, bosToken, eosToken, extra, TemplateLimits.Default, TimeProvider.System);

    internal string Render(
        IReadOnlyList<ChatMessage> messages,
        bool addGenerationPrompt,
        string? bosToken,
        string? eosToken,
        IReadOnlyDictionary<string, object?>? extra,
        TemplateLimits limits,
        TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var globals = new Scope(null);
        globals.Set("messages", messages.Select(m => (object?)TemplateValueConverter.FromMessage(m)).ToList());
        globals.Set("add_generation_prompt", addGenerationPrompt);
        globals.Set("tools", null);
        globals.Set("documents", null);
        if (bosToken is not null)
        {
            globals.Set("bos_token", bosToken);
        }

        if (eosToken is not null)
        {
            globals.Set("eos_token", eosToken);
        }

        foreach (var (name, value) in extra ?? new Dictionary<string, object?>())
        {
            globals.Set(name, TemplateValueConverter.FromClr(value, $"extra['{name}']"));
        }

        var interpreter = new TemplateInterpreter(new RenderState(_source, limits, time));
        try
        {
            return interpreter.Render(_body, new Scope(globals));
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateException("template nested too deeply to render");
        }
        catch (Exception ex) when (ex is InvalidCastException or ArgumentException or OverflowException or FormatException
                                       or IndexOutOfRangeException or InvalidOperationException)
        {
            // An interpreter bug must not take the server down; report it against the template.
            throw new TemplateException($"template rendering failed: {ex.GetType().Name}: {ex.Message}");
        }
    }
}
