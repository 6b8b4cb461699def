using System.Collections.Concurrent;
using Flywheel.Server.OpenAi;
using Flywheel.Structured;

namespace Flywheel.Server.Hosting;

/// <summary>A compiled response_format: the grammar that constrains decoding and the validator that checks the result.</summary>
internal sealed record CompiledFormat(JsonSchemaGrammar Grammar, JsonSchemaValidator Validator);

/// <summary>
/// Compiles response_format schemas on request threads (never the engine thread), once per distinct
/// schema text: a bounded cache, cleared when full. The vocabulary the masks walk is built once, in the
/// background from <see cref="StartBuildingVocabulary"/> or else on first use.
/// A schema the compiler or validator cannot honour is a 400 naming the keyword and its JSON pointer.
/// Thread-safe.
/// </summary>
internal sealed class ResponseFormatCompiler(Func<TokenVocabulary> createVocabulary, Action<double> compileSeconds)
{
    private const int CacheCapacity = 256;
    private const string AnyObjectKey = "";
    private const string AnyObjectSchema = """{"type":"object"}""";

    private readonly Lazy<TokenVocabulary> _vocabulary = new(createVocabulary);
    private readonly ConcurrentDictionary<string, Lazy<CompiledFormat>> _cache = new(StringComparer.Ordinal);

    /// <summary>The model's vocabulary as the grammar sees it (built once).</summary>
    public TokenVocabulary Vocabulary => _vocabulary.Value;

    /// <summary>Whether the vocabulary has been built (for tests).</summary>
    internal bool VocabularyBuilt => _vocabulary.IsValueCreated;

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
    /// <exception cref="OpenAiError">400 when the schema uses what cannot be enforced exactly.</exception>
    public CompiledFormat Compile(ResponseFormat format)
    {
        var key = format.Kind == ResponseFormatKind.JsonObject ? AnyObjectKey : format.SchemaJson ?? throw new ArgumentException("json_schema without a schema", nameof(format));
        if (_cache.Count >= CacheCapacity && !_cache.ContainsKey(key))
        {
            _cache.Clear();
        }

        var entry = _cache.GetOrAdd(key, k => new Lazy<CompiledFormat>(() => Build(k)));
        try
        {
            var compiled = entry.Value;
            _ = Vocabulary; // built here, on a request thread, not on the engine's first mask
            return compiled;
        }
        catch (SchemaCompileException e)
        {
            throw OpenAiError.BadRequest(
                $"response_format.json_schema.schema cannot be enforced: {e.Message}", "response_format.json_schema.schema", "unsupported_schema");
        }
    }

    private CompiledFormat Build(string key)
    {
        var grammar = key == AnyObjectKey ? JsonSchemaGrammar.AnyJsonObject() : JsonSchemaGrammar.Compile(key);
        compileSeconds(grammar.CompileMilliseconds / 1000);
        return new CompiledFormat(grammar, JsonSchemaValidator.Create(key == AnyObjectKey ? AnyObjectSchema : key));
    }
}
