using System.Text.Json;
using Flywheel.Structured;

namespace Flywheel.Serving.ResponseFormats;

/// <summary>A compiled response_format: the grammar that constrains decoding and the validator that checks the result.</summary>
internal sealed record CompiledFormat(JsonSchemaGrammar Grammar, JsonSchemaValidator Validator);

/// <summary>
/// Compiles response_format schemas on a small pool of its own threads (never the engine thread or the
/// request thread pool), once per canonical schema text and whitespace mode: whitespace and escapes in the
/// schema do not make a new compile, a different <see cref="JsonWhitespace"/> does. Compiled formats are kept in an LRU cache bounded by count and bytes. Requests that ask for a schema
/// that is being compiled wait for that one compile; it is cancelled only when every one of them has
/// gone (client gone, request timeout, server drain). A compile has a state and time budget. The
/// vocabulary the masks walk is built once, in the background from <see cref="StartBuildingVocabulary"/>
/// or else on first use. A schema the compiler or validator cannot honour, or that exceeds the budget,
/// is refused (<see cref="RequestRejectedException"/>) naming the keyword (or the limit) and its JSON pointer. Thread-safe.
/// </summary>
internal sealed class ResponseFormatCompiler : IDisposable
{
    /// <summary>The field a refused response_format schema is reported against.</summary>
    public const string ResponseFormatParam = "response_format.json_schema.schema";

    private const string AnyObjectKey = "\0json_object"; // no JSON text starts with NUL
    private const string AnyObjectSchema = """{"type":"object"}""";

    private readonly Lazy<TokenVocabulary> _vocabulary;
    private readonly Action<double> _compileSeconds;
    private readonly SchemaCompileOptions _options;
    private readonly CompiledFormatCache _cache;
    private readonly RefusedSchemas _refused = new();
    private readonly SchemaCompilePool _pool;
    private readonly object _lock = new();
    private readonly Dictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);

    public ResponseFormatCompiler(Func<TokenVocabulary> createVocabulary, Action<double> compileSeconds, SchemaCompileOptions? options = null)
    {
        _options = options ?? new SchemaCompileOptions();
        _options.Validate();
        _vocabulary = new(createVocabulary);
        _compileSeconds = compileSeconds;
        _cache = new CompiledFormatCache(_options.CacheCount, _options.CacheBytes);
        _pool = new SchemaCompilePool(_options.Concurrency);
    }

    /// <summary>The model's vocabulary as the grammar sees it (built once).</summary>
    public TokenVocabulary Vocabulary => _vocabulary.Value;

    /// <summary>Whether the vocabulary has been built (for tests).</summary>
    internal bool VocabularyBuilt => _vocabulary.IsValueCreated;

    /// <summary>The cache of compiled formats (for tests).</summary>
    internal CompiledFormatCache Cache => _cache;

    /// <summary>Compiles started on the pool so far (for tests: identical schemas share one).</summary>
    internal int CompileCount => Volatile.Read(ref _compileCount);

    private int _compileCount;

    /// <summary>
    /// Builds the vocabulary on a pool thread now, so the first structured request does not wait for it
    /// (for a 128k vocabulary its trie and the warm-up walks of common regions take about half a second).
    /// A request that comes first waits for the same build. A failed build is kept by the Lazy and
    /// reaches the requests that need the vocabulary, as it would without this call.
    /// </summary>
    public void StartBuildingVocabulary() =>
        ThreadPool.QueueUserWorkItem(static self =>
        {
            try
            {
                _ = self._vocabulary.Value;
            }
            catch (Exception)
            {
                // Kept by the Lazy: rethrown to each request that asks for the vocabulary.
            }
        }, this, preferLocal: false);

    /// <summary>Compiles (or finds) <paramref name="format"/>, which must be json_object or json_schema.</summary>
    /// <param name="format">The schema and whitespace mode.</param>
    /// <param name="cancellationToken">Abandons the wait (and the compile, once nobody else waits for it).</param>
    /// <param name="param">The request field a refusal names (a tool's parameters are compiled here too).</param>
    /// <exception cref="RequestRejectedException">When the schema uses what cannot be enforced exactly, or exceeds the compile budget.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    public async Task<CompiledFormat> CompileAsync(ResponseFormat format, CancellationToken cancellationToken, string param = ResponseFormatParam)
    {
        var schema = format.Kind == ResponseFormatKind.JsonObject ? null
            : Canonical(format.SchemaJson ?? throw new ArgumentException("json_schema without a schema", nameof(format)));
        var key = Key(schema, format.Whitespace);
        if (!_cache.TryGet(key, out var compiled))
        {
            // Only on a miss: a compiled schema is never a refused one, and hits should not pay for hashing the key.
            if (_refused.TryGet(key, out var refusal))
            {
                throw Rejected(refusal, param);
            }

            try
            {
                compiled = await Shared(key, schema, format.Whitespace, cancellationToken).ConfigureAwait(false);
            }
            catch (SchemaCompileException e)
            {
                throw Rejected(e.Message, param);
            }
        }

        _ = Vocabulary; // built here, on a request thread, not on the engine's first mask
        return compiled;
    }

    /// <summary>
    /// The cache and in-flight key of a canonical schema (null: any JSON object) under a whitespace mode. The
    /// default mode's key is the schema text itself; the others are prefixed with a NUL and the mode's name,
    /// which no JSON text starts with, so a compact request never finds a bounded grammar or the reverse.
    /// </summary>
    internal static string Key(string? canonicalSchema, JsonWhitespace whitespace)
    {
        var body = canonicalSchema ?? AnyObjectKey;
        return whitespace switch
        {
            JsonWhitespace.Bounded => body,
            JsonWhitespace.Compact => "\0compact\0" + body,
            JsonWhitespace.Any => "\0any\0" + body,
            _ => throw new ArgumentOutOfRangeException(nameof(whitespace), whitespace, "unknown whitespace mode"),
        };
    }

    /// <summary>Waits for the one compile of <paramref name="key"/>, starting it if none runs.</summary>
    private async Task<CompiledFormat> Shared(string key, string? schema, JsonWhitespace whitespace, CancellationToken cancellationToken)
    {
        InFlight entry;
        lock (_lock)
        {
            if (_cache.TryGet(key, out var cached))
            {
                return cached;
            }

            if (!_inFlight.TryGetValue(key, out entry!))
            {
                entry = new InFlight();
                _inFlight[key] = entry;
                Interlocked.Increment(ref _compileCount);
                entry.Task = _pool.RunAsync(ct => Build(key, schema, whitespace, entry, ct), entry.Cancel.Token);
            }

            entry.Waiters++;
        }

        try
        {
            return await entry.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                // The last waiter to leave an unfinished compile cancels it: nobody wants its result.
                if (--entry.Waiters == 0 && !entry.Task.IsCompleted)
                {
                    entry.Cancel.Cancel();
                    Forget(key, entry);
                }
            }
        }
    }

    private CompiledFormat Build(string key, string? schema, JsonWhitespace whitespace, InFlight entry, CancellationToken cancellationToken)
    {
        try
        {
            var options = _options.GrammarOptions with { MaxWhitespace = MaxWhitespace(whitespace) };
            var grammar = schema is null ? JsonSchemaGrammar.AnyJsonObject(options) : JsonSchemaGrammar.Compile(schema, options, cancellationToken);
            _compileSeconds(grammar.CompileMilliseconds / 1000);
            var format = new CompiledFormat(grammar, JsonSchemaValidator.Create(schema ?? AnyObjectSchema));
            _cache.Add(key, format, grammar.TableBytes + (key.Length * sizeof(char)));
            return format;
        }
        catch (SchemaCompileException e) when (!e.DependsOnLoad)
        {
            _refused.Add(key, e.Message);
            throw;
        }
        finally
        {
            lock (_lock)
            {
                Forget(key, entry);
            }
        }
    }

    /// <summary>The grammar's whitespace bound for a request's mode.</summary>
    internal static int MaxWhitespace(JsonWhitespace whitespace) => whitespace switch
    {
        JsonWhitespace.Compact => 0,
        JsonWhitespace.Any => JsonSchemaCompileOptions.UnboundedWhitespace,
        _ => JsonSchemaCompileOptions.DefaultMaxWhitespace,
    };

    private static RequestRejectedException Rejected(string reason, string param) =>
        new(RejectionReason.UnsupportedSchema, $"{param} cannot be enforced: {reason}", param);

    /// <summary>Removes <paramref name="entry"/> from the in-flight table if it is still the one for <paramref name="key"/>. Caller holds the lock.</summary>
    private void Forget(string key, InFlight entry)
    {
        if (_inFlight.TryGetValue(key, out var current) && ReferenceEquals(current, entry))
        {
            _inFlight.Remove(key);
        }
    }

    /// <summary>
    /// The schema re-serialized compactly (key order, numbers and values kept; whitespace and escapes
    /// normalized), so texts that differ only in layout share a cache entry. Text that is not JSON is
    /// its own key: the compile then refuses it with the parser's message.
    /// </summary>
    internal static string Canonical(string schemaJson)
    {
        try
        {
            using var doc = JsonDocument.Parse(schemaJson);
            return JsonSerializer.Serialize(doc.RootElement);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return schemaJson;
        }
    }

    public void Dispose() => _pool.Dispose();

    /// <summary>One compile and the requests waiting for it (guarded by the compiler's lock).</summary>
    private sealed class InFlight
    {
        public CancellationTokenSource Cancel { get; } = new();

        public Task<CompiledFormat> Task { get; set; } = null!;

        public int Waiters { get; set; }
    }
}
