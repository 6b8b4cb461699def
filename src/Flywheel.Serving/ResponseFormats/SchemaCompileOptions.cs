using Flywheel.Structured;

namespace Flywheel.Serving.ResponseFormats;

/// <summary>
/// What compiling response_format schemas may cost the server: the per-compile state and time budget,
/// how many compiles run at once (on their own threads, never the engine's or the request pool's), and
/// how much the cache of compiled formats may hold.
/// </summary>
public sealed record SchemaCompileOptions
{
    /// <summary>Most automaton states one compile may make (<c>--max-schema-states</c>); see <see cref="JsonSchemaCompileOptions.MaxStates"/>.</summary>
    public int MaxStates { get; init; } = JsonSchemaCompileOptions.DefaultMaxStates;

    /// <summary>Longest one compile may run before it is refused (<c>--schema-compile-timeout</c>).</summary>
    public TimeSpan CompileTimeout { get; init; } = JsonSchemaCompileOptions.DefaultCompileTimeout;

    /// <summary>
    /// Compiles that run at once (<c>--schema-compile-concurrency</c>); the rest wait their turn. One keeps a
    /// core for the engine thread and the HTTP edge on a small machine however many schemas arrive.
    /// </summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>Most compiled formats the cache keeps (least recently used go first).</summary>
    public int CacheCount { get; init; } = 256;

    /// <summary>Most bytes of compiled tables and schema text the cache keeps (least recently used go first).</summary>
    public long CacheBytes { get; init; } = 128L * 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first setting that cannot work.</summary>
    public void Validate()
    {
        if (MaxStates <= 0)
        {
            throw new ArgumentException($"MaxStates must be positive; got {MaxStates}.", nameof(MaxStates));
        }

        if (CompileTimeout <= TimeSpan.Zero && CompileTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentException($"CompileTimeout must be positive; got {CompileTimeout}.", nameof(CompileTimeout));
        }

        if (Concurrency is < 1 or > 64)
        {
            throw new ArgumentException($"Concurrency must be 1-64; got {Concurrency}.", nameof(Concurrency));
        }

        if (CacheCount < 1 || CacheBytes < 1)
        {
            throw new ArgumentException($"CacheCount and CacheBytes must be positive; got {CacheCount} and {CacheBytes}.", nameof(CacheCount));
        }
    }

    /// <summary>The grammar compiler's options for one compile.</summary>
    internal JsonSchemaCompileOptions GrammarOptions => new() { MaxStates = MaxStates, CompileTimeout = CompileTimeout };
}
