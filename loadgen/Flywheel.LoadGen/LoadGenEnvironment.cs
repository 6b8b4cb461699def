namespace Flywheel.LoadGen;

/// <summary>
/// What the host supplies to <see cref="LoadGenCommand"/>: where text goes and how to load a
/// tokenizer. The defaults suit the <c>flywheel</c> CLI; tests replace the writers.
/// </summary>
public sealed class LoadGenEnvironment
{
    /// <summary>Results and the live display.</summary>
    public TextWriter Out { get; init; } = Console.Out;

    /// <summary>Usage, warnings and errors.</summary>
    public TextWriter Error { get; init; } = Console.Error;

    /// <summary>
    /// Loads the token counter for <c>--tokenizer FILE</c> (e.g. the engine's tokenizer over a
    /// tokenizer.json); null means the option is not supported by this host and lengths are approximated.
    /// </summary>
    public Func<string, ITokenCounter>? TokenizerLoader { get; init; }

    /// <summary>Whether the live display may be drawn; null decides by whether stdout is a terminal.</summary>
    public bool? Interactive { get; init; }

    /// <summary>HTTP handler to send requests through; null uses a fresh <see cref="SocketsHttpHandler"/>.</summary>
    public HttpMessageHandler? HttpHandler { get; init; }
}
