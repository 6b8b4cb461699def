using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;

namespace Flywheel.Structured;

/// <summary>Options for <see cref="JsonSchemaGrammar.Compile(string, JsonSchemaCompileOptions?, CancellationToken)"/>.</summary>
public sealed record JsonSchemaCompileOptions
{
    /// <summary>
    /// Most JSON whitespace characters allowed in a row between tokens: 0 = compact JSON only,
    /// <see cref="UnboundedWhitespace"/> = any run (a model may then emit whitespace until its token
    /// budget runs out), default <see cref="DefaultMaxWhitespace"/>. No whitespace is allowed before or
    /// after the top-level value.
    /// </summary>
    public int MaxWhitespace { get; init; } = DefaultMaxWhitespace;

    /// <summary>
    /// Default of <see cref="MaxWhitespace"/>: a line break (one or two characters, \n or \r\n) and then
    /// the indentation of the next line, which is 10 columns at most; that is five levels of two-space indentation, two of
    /// four-space, ten of tabs. Deeper pretty-printing still parses with shallower indentation; what the bound removes
    /// is the run of blank lines or spaces a model can fall into, where every token is whitespace.
    /// </summary>
    public const int DefaultMaxWhitespace = 12;

    /// <summary>Value of <see cref="MaxWhitespace"/> that allows whitespace runs of any length.</summary>
    public const int UnboundedWhitespace = -1;

    /// <summary>
    /// Most automaton states one compile may make (determinized states of every rule and sub-automaton);
    /// it also bounds the NFA (<see cref="CompileBudget.NfaStatesPerState"/> per state) and the state
    /// sets behind determinized states (<see cref="CompileBudget.SetEntriesPerState"/> per state),
    /// which is what bounds a compile's memory. A schema that needs more is refused naming the limit.
    /// </summary>
    public int MaxStates { get; init; } = DefaultMaxStates;

    /// <summary>Wall time one compile may take before it is refused (<see cref="Timeout.InfiniteTimeSpan"/>: no limit).</summary>
    public TimeSpan CompileTimeout { get; init; } = DefaultCompileTimeout;

    /// <summary>Default of <see cref="MaxStates"/>: ample for real-world schemas (thousands of states), small enough that the tables stay within tens of MB.</summary>
    public const int DefaultMaxStates = 250_000;

    /// <summary>Default of <see cref="CompileTimeout"/>.</summary>
    public static readonly TimeSpan DefaultCompileTimeout = TimeSpan.FromSeconds(10);
}

/// <summary>
/// A JSON Schema compiled into a byte-level grammar (lexer-free pushdown automaton). Every text the
/// grammar accepts is a JSON document valid against the schema; schemas it cannot represent that
/// way are refused at compile time with <see cref="SchemaCompileException"/>, never widened.
/// Documented narrowings (valid documents the grammar does not generate): object properties appear
/// in declared order, then pattern/additional properties; an object that declares properties but
/// not additionalProperties gets no others; integers have no fraction or exponent; numbers with
/// bounds have no exponent; numbers under multipleOf have no more fraction digits than the step (an
/// integer step gives integers only); strings with length/pattern/format use short escapes only (no \uXXXX);
/// maxLength above 2048, maxItems above 1024 and a map's maxProperties above 32 are lowered to those caps;
/// members a dependency requires come before the member that requires them; formats follow
/// <see cref="StringFormats"/>; JSON whitespace is bounded by <see cref="JsonSchemaCompileOptions.MaxWhitespace"/>.
/// Known gap: keys matched by patternProperties/additionalProperties may repeat (duplicate keys).
/// Immutable and thread-safe; compile once, share across requests.
/// </summary>
public sealed class JsonSchemaGrammar
{
    private readonly ConditionalWeakTable<TokenVocabulary, MaskCache> _caches = new();
    private readonly ConditionalWeakTable<TokenVocabulary, GrammarBudget> _budgets = new();

    private JsonSchemaGrammar(CompiledGrammar compiled, double compileMilliseconds)
    {
        Compiled = compiled;
        CompileMilliseconds = compileMilliseconds;
    }

    internal CompiledGrammar Compiled { get; }

    /// <summary>Automaton states after determinization and trimming (a size measure).</summary>
    public int StateCount => Compiled.StateCount;

    /// <summary>Bytes of the compiled tables (not of the mask caches that fill as the grammar is used).</summary>
    public long TableBytes =>
        (Compiled.Next.LongLength * sizeof(int)) + Compiled.Flags.LongLength + Compiled.ClassOf.LongLength
        + ((Compiled.CallOffsets.LongLength + Compiled.CallStarts.LongLength + Compiled.CallReturns.LongLength) * sizeof(int));

    /// <summary>Wall time the compilation took, in milliseconds.</summary>
    public double CompileMilliseconds { get; }

    /// <summary>
    /// Compiles a JSON Schema document. Throws <see cref="SchemaCompileException"/> naming the keyword and
    /// pointer it cannot honour, when the text is not JSON, or when the compile would exceed
    /// <see cref="JsonSchemaCompileOptions.MaxStates"/> or <see cref="JsonSchemaCompileOptions.CompileTimeout"/>;
    /// throws <see cref="OperationCanceledException"/> soon after <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static JsonSchemaGrammar Compile(string schemaJson, JsonSchemaCompileOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schemaJson);
        var started = Stopwatch.GetTimestamp();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(schemaJson);
        }
        catch (JsonException e)
        {
            throw new SchemaCompileException("(schema)", "#", $"the schema is not valid JSON: {e.Message}");
        }

        using (doc)
        {
            var anchors = SchemaReferences.EnsureLocal(doc.RootElement);
            var reader = new SchemaReader(doc.RootElement, anchors);
            var root = reader.Resolve("#", "#", requireBody: true)!;
            options ??= new();
            var budget = new CompileBudget(options.MaxStates, options.CompileTimeout, cancellationToken);
            var builder = new GrammarBuilder(reader, options.MaxWhitespace, budget);
            builder.BuildRoot(root);
            var compiled = GrammarCompiler.Compile(builder.Nfa, builder.Rules);
            return new JsonSchemaGrammar(compiled, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>The <c>{"type":"json_object"}</c> mode: any JSON object.</summary>
    public static JsonSchemaGrammar AnyJsonObject(JsonSchemaCompileOptions? options = null)
    {
        var started = Stopwatch.GetTimestamp();
        using var doc = JsonDocument.Parse("{}");
        var builder = new GrammarBuilder(new SchemaReader(doc.RootElement), (options ?? new()).MaxWhitespace);
        builder.BuildAnyObjectRoot();
        return new JsonSchemaGrammar(GrammarCompiler.Compile(builder.Nfa, builder.Rules), Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>A fresh byte-level matcher at the start of the document.</summary>
    public GrammarByteMatcher CreateByteMatcher() => new(new PdaRunner(Compiled));

    /// <summary>
    /// The fewest tokens of <paramref name="vocabulary"/> that make a complete document: a request
    /// whose token budget is at least this always ends valid when its matcher is given the budget
    /// (see <see cref="GrammarMatcher(JsonSchemaGrammar, TokenVocabulary, int)"/>); below it, no
    /// valid answer is guaranteed and the request should be refused naming this number.
    /// Null when the vocabulary lacks single-byte tokens the bound is built from (a byte-level
    /// vocabulary never does): then no budget can be guaranteed, and a matcher given one ignores it.
    /// Worked out on first use per vocabulary, then shared.
    /// </summary>
    public int? MinimumTokens(TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var minimum = BudgetFor(vocabulary).Minimum;
        return minimum >= GrammarBudget.Unbounded ? null : minimum;
    }

    /// <summary>The per-state token bounds for one vocabulary, created on first use and shared after.</summary>
    internal GrammarBudget BudgetFor(TokenVocabulary vocabulary) =>
        _budgets.GetValue(vocabulary, v => GrammarBudget.Compute(Compiled, v));

    /// <summary>The token-mask cache for one vocabulary, created on first use and shared after.</summary>
    internal MaskCache CacheFor(TokenVocabulary vocabulary) =>
        _caches.GetValue(vocabulary, v => new MaskCache(Compiled, v));
}

/// <summary>
/// Feeds bytes to a grammar one at a time. A rejected byte leaves the matcher unchanged. Not
/// thread-safe; <see cref="Clone"/> gives an independent copy (for lookahead or rollback).
/// </summary>
public sealed class GrammarByteMatcher
{
    private PdaRunner _runner;
    private int[] _current;
    private int _count;

    internal GrammarByteMatcher(PdaRunner runner)
    {
        _runner = runner;
        _count = runner.Start(0);
        _current = runner.Sets[.._count];
    }

    private GrammarByteMatcher(PdaRunner runner, int[] current, int count)
    {
        _runner = runner;
        _current = current;
        _count = count;
    }

    /// <summary>True when the bytes so far form a complete document (more bytes may still be allowed, e.g. digits).</summary>
    public bool IsComplete => Array.IndexOf(_current, PdaRunner.FinalNode, 0, _count) >= 0;

    /// <summary>True when some byte may follow.</summary>
    public bool CanContinue
    {
        get
        {
            for (var i = 0; i < _count; i++)
            {
                if (_current[i] != PdaRunner.FinalNode)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Consumes <paramref name="b"/> if the grammar allows it here; otherwise returns false and changes nothing.</summary>
    public bool TryAdvance(byte b)
    {
        _runner.EnsureSets(_count * 4 + 16);
        var sets = _runner.Sets;
        Array.Copy(_current, 0, sets, 0, _count);
        var mark = _runner.NodeCount;
        var n = _runner.Advance(0, _count, b, _count);
        if (n == 0)
        {
            _runner.NodeCount = mark;
            return false;
        }

        if (_current.Length < n)
        {
            _current = new int[n * 2];
        }

        Array.Copy(_runner.Sets, _count, _current, 0, n);
        _count = n;
        return true;
    }

    /// <summary>Consumes all of <paramref name="bytes"/> or, if some byte is rejected, nothing.</summary>
    public bool TryAdvance(ReadOnlySpan<byte> bytes)
    {
        var copy = Clone();
        foreach (var b in bytes)
        {
            if (!copy.TryAdvance(b))
            {
                return false;
            }
        }

        _runner = copy._runner;
        _current = copy._current;
        _count = copy._count;
        return true;
    }

    /// <summary>An independent copy at the same position.</summary>
    public GrammarByteMatcher Clone() => new(_runner.Clone(), (int[])_current.Clone(), _count);
}
