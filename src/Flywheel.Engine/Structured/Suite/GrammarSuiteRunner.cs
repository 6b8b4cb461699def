using System.Diagnostics;
using System.Text.Json;
using Flywheel.Tokenization;

namespace Flywheel.Structured;

/// <summary>How a suite case went.</summary>
public enum GrammarSuiteStatus
{
    /// <summary>The schema compiled and every instance was run.</summary>
    Ok,

    /// <summary>The compiler refused the schema (<see cref="SchemaCompileException"/>); no instance was run.</summary>
    Unsupported,

    /// <summary>Something else failed (a bug: an unexpected exception, or the mask and the matcher disagreeing).</summary>
    Error,
}

/// <summary>One instance's outcome: whether the grammar accepted its tokens, and whether it should have.</summary>
public sealed record GrammarSuiteTestResult(string? Description, bool Accepted, bool Expected);

/// <summary>
/// One case's outcome. <see cref="Compiled"/>: the schema compiled (an error may still come after);
/// <see cref="CompileMicroseconds"/> is the time to compile or to refuse; <see cref="Tests"/> holds
/// the instances run (none when the schema did not compile).
/// </summary>
public sealed record GrammarSuiteResult(
    GrammarSuiteCase Case, GrammarSuiteStatus Status, bool Compiled, string? Message, double CompileMicroseconds, IReadOnlyList<GrammarSuiteTestResult> Tests)
{
    /// <summary>Compiled, and every instance classified as the suite says.</summary>
    public bool Passed => Status == GrammarSuiteStatus.Ok && Tests.All(t => t.Accepted == t.Expected);
}

/// <summary>
/// Runs JSON-Schema suite cases through the grammar the way generation would meet them: each
/// instance is serialised like Python's <c>json.dumps</c> (<see cref="PythonJsonWriter"/>),
/// tokenized with the model's tokenizer, and fed token by token; before every token (and once more
/// at the end) the full mask is computed and timed. An instance is accepted when the mask allows
/// every token and the value is complete at the end. The tokenizer's split may differ from any the
/// grammar allows (its whitespace and property order are narrower than JSON's), so a valid instance
/// can be rejected; an invalid one accepted is a soundness bug. Not thread-safe.
/// </summary>
public sealed class GrammarSuiteRunner
{
    private readonly Tokenizer _tokenizer;
    private readonly TokenVocabulary _vocabulary;
    private readonly JsonSchemaCompileOptions? _options;
    private readonly uint[] _mask;
    private readonly List<double> _maskMicroseconds = [];
    private readonly List<double> _warmMaskMicroseconds = [];
    private List<double> _timing = [];

    /// <summary>Creates a runner; <paramref name="vocabulary"/> must be <paramref name="tokenizer"/>'s (see <see cref="TokenVocabulary.FromTokenizer"/>).</summary>
    public GrammarSuiteRunner(Tokenizer tokenizer, TokenVocabulary vocabulary, JsonSchemaCompileOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(vocabulary);
        (_tokenizer, _vocabulary, _options) = (tokenizer, vocabulary, options);
        _mask = new uint[vocabulary.MaskLength];
    }

    /// <summary>Wall time of every first-pass mask so far (a fresh grammar: its mask cache starts cold), in microseconds.</summary>
    public IReadOnlyList<double> MaskMicroseconds => _maskMicroseconds;

    /// <summary>Wall time of every mask of the later passes (the same grammar again: its mask cache is warm), in microseconds.</summary>
    public IReadOnlyList<double> WarmMaskMicroseconds => _warmMaskMicroseconds;

    /// <summary>
    /// Compiles the case's schema and classifies its instances. With <paramref name="passes"/> &gt; 1
    /// the instances are fed again to the same grammar, timing the masks separately
    /// (<see cref="WarmMaskMicroseconds"/>); a pass that classifies differently is an error.
    /// </summary>
    public GrammarSuiteResult Run(GrammarSuiteCase suiteCase, int passes = 1)
    {
        ArgumentNullException.ThrowIfNull(suiteCase);
        ArgumentOutOfRangeException.ThrowIfLessThan(passes, 1);
        var started = Stopwatch.GetTimestamp();
        JsonSchemaGrammar grammar;
        try
        {
            grammar = JsonSchemaGrammar.Compile(suiteCase.SchemaJson, _options);
        }
        catch (SchemaCompileException e)
        {
            return new(suiteCase, GrammarSuiteStatus.Unsupported, false, e.Message, Elapsed(started), []);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new(suiteCase, GrammarSuiteStatus.Error, false, $"compile failed: {e.GetType().Name}: {e.Message}", Elapsed(started), []);
        }

        var compileMicroseconds = Elapsed(started);
        var results = new List<GrammarSuiteTestResult>(suiteCase.Tests.Count);
        foreach (var test in suiteCase.Tests)
        {
            try
            {
                _timing = _maskMicroseconds;
                var accepted = Accepts(grammar, test.DataJson);
                results.Add(new(test.Description, accepted, test.Valid));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var message = $"test '{test.Description}': {e.GetType().Name}: {e.Message}";
                return new(suiteCase, GrammarSuiteStatus.Error, true, message, compileMicroseconds, results);
            }
        }

        for (var pass = 1; pass < passes; pass++)
        {
            _timing = _warmMaskMicroseconds;
            for (var i = 0; i < results.Count; i++)
            {
                if (Accepts(grammar, suiteCase.Tests[i].DataJson) != results[i].Accepted)
                {
                    var message = $"test '{results[i].Description}': pass {pass + 1} classified it differently from pass 1";
                    return new(suiteCase, GrammarSuiteStatus.Error, true, message, compileMicroseconds, results);
                }
            }
        }

        return new(suiteCase, GrammarSuiteStatus.Ok, true, null, compileMicroseconds, results);
    }

    /// <summary>Whether the grammar accepts the tokens of the instance's Python-style text.</summary>
    private bool Accepts(JsonSchemaGrammar grammar, string dataJson)
    {
        string text;
        using (var doc = JsonDocument.Parse(dataJson))
        {
            text = PythonJsonWriter.Write(doc.RootElement);
        }

        var matcher = new GrammarMatcher(grammar, _vocabulary);
        foreach (var id in _tokenizer.Encode(text))
        {
            ComputeMask(matcher);
            var allowed = MaskAllows(id);
            if (allowed != matcher.IsAllowed(id))
            {
                throw new InvalidOperationException($"the mask {(allowed ? "allows" : "forbids")} token {id} but IsAllowed says the opposite");
            }

            if (!allowed)
            {
                return false;
            }

            if (!matcher.TryAccept(id))
            {
                throw new InvalidOperationException($"token {id} is allowed but TryAccept refused it");
            }
        }

        // The step that would sample end-of-sequence: its mask must allow eos exactly when complete.
        if (_vocabulary.EosTokenIds.Count > 0)
        {
            ComputeMask(matcher);
        }

        foreach (var eos in _vocabulary.EosTokenIds)
        {
            if (MaskAllows(eos) != matcher.IsComplete)
            {
                throw new InvalidOperationException($"the mask and IsComplete ({matcher.IsComplete}) disagree on eos token {eos}");
            }
        }

        return matcher.IsComplete;
    }

    private void ComputeMask(GrammarMatcher matcher)
    {
        var started = Stopwatch.GetTimestamp();
        matcher.ComputeMask(_mask);
        _timing.Add(Elapsed(started));
    }

    private bool MaskAllows(int id) => (_mask[id >> 5] & (1u << (id & 31))) != 0;

    private static double Elapsed(long started) => Stopwatch.GetElapsedTime(started).TotalMicroseconds;
}
