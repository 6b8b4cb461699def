using System.Diagnostics;
using Flywheel.Server.OpenAi;
using Flywheel.Serving;
using Flywheel.Serving.ResponseFormats;
using Flywheel.Structured;

namespace Flywheel.Server.Tests.Serving.ResponseFormats;

/// <summary>
/// The compiled-format cache and compile pool: keyed by canonical schema, LRU-bounded by count and bytes,
/// one compile for concurrent identical schemas, and a compile abandoned by its requests stops and frees
/// the pool.
/// </summary>
public sealed class ResponseFormatCompilerTests
{
    /// <summary>Seconds of work when nothing stops it: 3,000 optional properties with no state or time limit.</summary>
    // Members that all differ (each its own enum) share no states: about 1M states, seconds of compiling. (A wide
    // object of alike members shares them and compiles in tens of milliseconds.)
    private static readonly string Heavy =
        "{\"type\":\"object\",\"properties\":{" + string.Join(',', Enumerable.Range(0, 15000).Select(i => $"\"r{i}\":{{\"enum\":[\"v{i}\"]}}")) + "}}";

    private static ResponseFormatCompiler NewCompiler(SchemaCompileOptions? options = null) =>
        new(() => TokenVocabulary.Create([.. Enumerable.Range(0, 128).Select(b => new[] { (byte)b })], [0]), _ => { }, options);

    private static ResponseFormat Schema(string json) => new(ResponseFormatKind.JsonSchema, "s", json);

    [Fact]
    public async Task Schemas_that_differ_only_in_whitespace_share_one_compile()
    {
        using var compiler = NewCompiler();
        var a = await compiler.CompileAsync(Schema("""{"type":"object","properties":{"a":{"type":"string"}}}"""), default);
        var b = await compiler.CompileAsync(Schema("""{ "type" : "object",  "properties": { "a" : { "type":"string" } } }"""), default);
        var c = await compiler.CompileAsync(Schema("{\n  \"type\": \"object\",\n  \"properties\": {\"\\u0061\": {\"type\": \"string\"}}\n}"), default);
        Assert.Same(a, b);
        Assert.Same(a, c);
        Assert.Equal(1, compiler.CompileCount);
    }

    [Fact]
    public async Task Key_order_still_matters_because_properties_are_generated_in_order()
    {
        using var compiler = NewCompiler();
        var ab = await compiler.CompileAsync(Schema("""{"properties":{"a":{},"b":{}}}"""), default);
        var ba = await compiler.CompileAsync(Schema("""{"properties":{"b":{},"a":{}}}"""), default);
        Assert.NotSame(ab, ba);
    }

    [Fact]
    public async Task Each_whitespace_mode_gets_its_own_grammar()
    {
        using var compiler = NewCompiler();
        const string schema = """{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}""";
        var bounded = await compiler.CompileAsync(Schema(schema), default);
        var compact = await compiler.CompileAsync(Schema(schema) with { Whitespace = JsonWhitespace.Compact }, default);
        var any = await compiler.CompileAsync(Schema(schema) with { Whitespace = JsonWhitespace.Any }, default);
        Assert.NotSame(bounded, compact);
        Assert.NotSame(bounded, any);
        Assert.NotSame(compact, any);
        Assert.Same(compact, await compiler.CompileAsync(Schema(schema) with { Whitespace = JsonWhitespace.Compact }, default));
        Assert.Equal(3, compiler.CompileCount);

        // What each grammar accepts follows its mode, whichever was compiled first.
        static bool Accepts(CompiledFormat f, string text) => f.Grammar.CreateByteMatcher() is var m && m.TryAdvance(System.Text.Encoding.UTF8.GetBytes(text)) && m.IsComplete;
        Assert.True(Accepts(compact, """{"a":1}"""));
        Assert.False(Accepts(compact, """{"a": 1}"""));
        Assert.True(Accepts(bounded, """{"a": 1}"""));
        Assert.False(Accepts(bounded, "{\"a\":" + new string(' ', 40) + "1}"));
        Assert.True(Accepts(any, "{\"a\":" + new string(' ', 40) + "1}"));

        var anyObjectCompact = await compiler.CompileAsync(new ResponseFormat(ResponseFormatKind.JsonObject, Whitespace: JsonWhitespace.Compact), default);
        var anyObjectBounded = await compiler.CompileAsync(new ResponseFormat(ResponseFormatKind.JsonObject), default);
        Assert.False(Accepts(anyObjectCompact, """{"a": 1}"""));
        Assert.True(Accepts(anyObjectBounded, """{"a": 1}"""));
    }

    [Fact]
    public async Task The_cache_keeps_the_most_recently_used_within_its_count()
    {
        using var compiler = NewCompiler(new SchemaCompileOptions { CacheCount = 2 });
        string[] schemas = ["""{"type":"string"}""", """{"type":"integer"}""", """{"type":"boolean"}"""];
        await compiler.CompileAsync(Schema(schemas[0]), default);
        await compiler.CompileAsync(Schema(schemas[1]), default);
        await compiler.CompileAsync(Schema(schemas[0]), default); // now the most recently used
        await compiler.CompileAsync(Schema(schemas[2]), default); // evicts schemas[1]
        Assert.Equal(2, compiler.Cache.Count);
        Assert.True(compiler.Cache.Contains(schemas[0]));
        Assert.False(compiler.Cache.Contains(schemas[1]));
        Assert.True(compiler.Cache.Contains(schemas[2]));
        Assert.Equal(3, compiler.CompileCount);
    }

    [Fact]
    public void The_cache_evicts_least_recently_used_to_stay_within_its_bytes()
    {
        var cache = new CompiledFormatCache(maxCount: 100, maxBytes: 1000);
        var format = new CompiledFormat(JsonSchemaGrammar.Compile("{}"), JsonSchemaValidator.Create("{}"));
        cache.Add("a", format, 400);
        cache.Add("b", format, 400);
        Assert.True(cache.TryGet("a", out _));
        cache.Add("c", format, 400); // 1200 > 1000: "b" is the least recently used
        Assert.Equal(800, cache.Bytes);
        Assert.True(cache.Contains("a"));
        Assert.False(cache.Contains("b"));
        cache.Add("huge", format, 5000); // bigger than the whole bound: not kept, nothing evicted
        Assert.False(cache.Contains("huge"));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public async Task Concurrent_identical_schemas_share_one_compile()
    {
        using var compiler = NewCompiler();
        var schema = """{"type":"object","properties":{"name":{"type":"string","pattern":"^[a-z]{50}$"}},"required":["name"]}""";
        var formats = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            compiler.CompileAsync(Schema(i % 2 == 0 ? schema : " " + schema + "\n"), default)));
        Assert.All(formats, f => Assert.Same(formats[0], f));
        Assert.Equal(1, compiler.CompileCount);
    }

    [Fact]
    public async Task A_compile_whose_request_is_cancelled_stops_and_frees_the_pool()
    {
        // One compile thread and no state or time limit: only cancellation can end the heavy compile early.
        using var compiler = NewCompiler(new SchemaCompileOptions
        {
            Concurrency = 1,
            MaxStates = 100_000_000,
            CompileTimeout = Timeout.InfiniteTimeSpan,
        });
        // Cancelled from a thread of its own: a timer's callback waits for the thread pool, which the test host's
        // parallel classes can keep busy.
        using var cancel = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            Thread.Sleep(200);
            cancel.Cancel();
        });
        canceller.Start();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => compiler.CompileAsync(Schema(Heavy), cancel.Token));
        canceller.Join();

        // The pool's only thread must be free again: a small schema compiles promptly.
        var clock = Stopwatch.StartNew();
        await compiler.CompileAsync(Schema("""{"type":"string"}"""), default).WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the pool was busy for {clock.Elapsed.TotalSeconds:F1} s after the cancel");
        Assert.False(compiler.Cache.Contains(ResponseFormatCompiler.Canonical(Heavy)));
    }

    [Fact]
    public async Task A_schema_over_the_budget_is_a_400_naming_the_limit()
    {
        using var compiler = NewCompiler(new SchemaCompileOptions { MaxStates = 1000 });
        var error = ServerErrors.Rejected(await Assert.ThrowsAsync<RequestRejectedException>(() => compiler.CompileAsync(Schema(Heavy), default)));
        Assert.Equal(400, error.StatusCode);
        Assert.Contains("--max-schema-states", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_schema_is_refused_again_without_a_compile_unless_time_refused_it()
    {
        // A client resending a schema over the state limit would otherwise hold the compile pool each time.
        using var compiler = NewCompiler(new SchemaCompileOptions { MaxStates = 1000 });
        var first = await Assert.ThrowsAsync<RequestRejectedException>(() => compiler.CompileAsync(Schema(Heavy), default));
        var again = await Assert.ThrowsAsync<RequestRejectedException>(() => compiler.CompileAsync(Schema(" " + Heavy), default));
        Assert.Equal(first.Message, again.Message);
        Assert.Equal(first.Param, again.Param);
        Assert.Equal(1, compiler.CompileCount);

        // A refusal by the time budget depends on how busy the server was: the next request compiles again.
        using var timed = NewCompiler(new SchemaCompileOptions { MaxStates = 100_000_000, CompileTimeout = TimeSpan.FromMilliseconds(1) });
        for (var i = 0; i < 2; i++)
        {
            var refused = await Assert.ThrowsAsync<RequestRejectedException>(() => timed.CompileAsync(Schema(Heavy), default));
            Assert.Contains("--schema-compile-timeout", refused.Message, StringComparison.Ordinal);
        }

        Assert.Equal(2, timed.CompileCount);
    }
}
