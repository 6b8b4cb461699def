using System.Text.Json;
using Flywheel.Engine.Tests.Models;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;
using Flywheel.Structured;
using Flywheel.Tokenization;

namespace Flywheel.Engine.Tests.Engine;

/// <summary>
/// Structured output in the engine over the real tiny model (random weights): constrained requests end
/// with JSON that parses and validates, whatever they share a batch with, and never change what the
/// unconstrained requests beside them generate.
/// </summary>
public sealed class ConstrainedEngineTests : IDisposable
{
    private const string Schema = """
        {"type":"object","properties":{
           "name":{"type":"string","minLength":1,"maxLength":6},
           "age":{"type":"integer","minimum":0,"maximum":120},
           "tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":3},
           "ok":{"type":"boolean"}},
         "required":["name","age"],"additionalProperties":false}
        """;

    private static readonly Lazy<string> TokenizerDir = new(() =>
    {
        var dir = TestScratch.Path("constrained-tok-" + Environment.ProcessId);
        SyntheticTokenizer.Write(dir, 300);
        return dir;
    });

    private readonly ModelFolder _model = ModelFolder.Open(TinyModel.Dir);
    private readonly Tokenizer _tokenizer = Tokenizer.Load(Path.Combine(TokenizerDir.Value, "tokenizer.json"));

    public void Dispose() => _model.Dispose();

    private TokenVocabulary Vocabulary() => TokenVocabulary.FromTokenizer(_tokenizer, _model.Config.EosTokenIds, _model.Config.VocabSize);

    private static int[] Prompt(int index, int length)
    {
        var random = new Random(500 + index);
        return Enumerable.Range(0, length).Select(_ => random.Next(1, 290)).ToArray();
    }

    private static Task<(List<int> Tokens, FinishEvent Finish)> Collect(SubmitOutcome outcome) => EngineEvents.Collect(outcome);

    [Theory]
    [InlineData(SchedulingPolicy.ChunkedPrefill)]
    [InlineData(SchedulingPolicy.PrefillFirst)]
    public async Task ConstrainedOutputsParseAndConformAndLeaveOthersAlone(SchedulingPolicy policy)
    {
        var grammar = JsonSchemaGrammar.Compile(Schema, new JsonSchemaCompileOptions { MaxWhitespace = 1 }); // keeps any instance well inside the tiny context
        var validator = JsonSchemaValidator.Create(Schema);
        var vocabulary = Vocabulary();
        var eos = _model.Config.EosTokenIds.ToHashSet();
        var plainPrompts = Enumerable.Range(0, 3).Select(i => Prompt(i, 10 + (i * 7))).ToArray();
        var alone = new List<List<int>>();
        using (var solo = new LlmEngine(_model, new EngineOptions { Policy = policy, ChunkSize = 8, MaxBatchTokens = 16, MaxRunningRequests = 4 }))
        {
            foreach (var p in plainPrompts)
            {
                alone.Add((await Collect(solo.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = 12, IgnoreEos = true }))).Tokens);
            }
        }

        using var engine = new LlmEngine(_model, new EngineOptions { Policy = policy, ChunkSize = 8, MaxBatchTokens = 16, MaxRunningRequests = 4 });
        var constrained = Enumerable.Range(0, 6).Select(i => Collect(engine.TrySubmit(new EngineRequest
        {
            PromptIds = Prompt(10 + i, 5 + i),
            MaxTokens = 200,
            IgnoreEos = i % 2 == 0, // a finished grammar stops the request either way
            Sampling = new SamplingParams { Temperature = 1.0, Seed = i },
            Constraint = new GrammarConstraint(grammar, vocabulary),
        }))).ToList();
        var plain = plainPrompts.Select(p => Collect(engine.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = 12, IgnoreEos = true }))).ToList();

        var results = await Task.WhenAll(constrained);
        foreach (var (tokens, finish) in results)
        {
            Assert.Equal(FinishReason.Stop, finish.Reason);
            Assert.Contains(tokens[^1], eos);
            var text = _tokenizer.Decode([.. tokens[..^1]]);
            using var doc = JsonDocument.Parse(text);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            Assert.Empty(validator.Validate(text));
        }

        Assert.True(results.Select(r => _tokenizer.Decode([.. r.Tokens[..^1]])).Distinct().Count() > 1, "different seeds should give different objects");
        var plainResults = await Task.WhenAll(plain);
        for (var i = 0; i < plainPrompts.Length; i++)
        {
            Assert.Equal(alone[i], plainResults[i].Tokens);
        }

        Assert.Equal(0, engine.OccupiedSlotCount);
    }

    [Fact]
    public async Task ConstrainedAnswersGivenTheirMaxTokensCloseWithinIt()
    {
        var grammar = JsonSchemaGrammar.Compile(Schema, new JsonSchemaCompileOptions { MaxWhitespace = 1 });
        var validator = JsonSchemaValidator.Create(Schema);
        var vocabulary = Vocabulary();
        var minimum = grammar.MinimumTokens(vocabulary) ?? throw new InvalidOperationException("no minimum");
        var eos = _model.Config.EosTokenIds.ToHashSet();
        using var engine = new LlmEngine(_model, new EngineOptions { ChunkSize = 8, MaxBatchTokens = 32, MaxRunningRequests = 4 });
        var runs = Enumerable.Range(0, 8).Select(i => Collect(engine.TrySubmit(new EngineRequest
        {
            PromptIds = Prompt(60 + i, 6),
            MaxTokens = minimum + i,
            IgnoreEos = true, // the random model never ends on its own: only the budget closes the answer
            Sampling = new SamplingParams { Temperature = 1.0, Seed = 70 + i },
            Constraint = new GrammarConstraint(grammar, vocabulary, minimum + i),
        }))).ToList();
        foreach (var (tokens, _) in await Task.WhenAll(runs))
        {
            var text = _tokenizer.Decode([.. tokens.Where(t => !eos.Contains(t))]);
            Assert.True(validator.Validate(text).Count == 0, $"not a valid answer: {text}"); // text that does not parse is an error too
        }

        Assert.Equal(0, engine.OccupiedSlotCount);
    }

    [Fact]
    public async Task GreedyConstrainedOutputIsTheSameAloneAndInABatch()
    {
        var grammar = JsonSchemaGrammar.AnyJsonObject(new JsonSchemaCompileOptions { MaxWhitespace = 2 });
        var vocabulary = Vocabulary();
        EngineRequest Request(int i) => new()
        {
            PromptIds = Prompt(30 + i, 9),
            MaxTokens = 60,
            Constraint = new GrammarConstraint(grammar, vocabulary),
        };

        using var engine = new LlmEngine(_model, new EngineOptions { ChunkSize = 4, MaxBatchTokens = 8, MaxRunningRequests = 4 });
        var alone = await Collect(engine.TrySubmit(Request(0)));
        var batch = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Collect(engine.TrySubmit(Request(i)))));
        Assert.Equal(alone.Tokens, batch[0].Tokens);
        Assert.StartsWith("{", _tokenizer.Decode([.. alone.Tokens]), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AConstraintThatAllowsNothingFailsOnlyItsRequest()
    {
        var timings = new List<double>();
        using var engine = new LlmEngine(_model, new EngineOptions { ChunkSize = 8, MaxBatchTokens = 16, MaxRunningRequests = 3 });
        var others = Enumerable.Range(0, 2).Select(i => Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(40 + i, 6), MaxTokens = 6, IgnoreEos = true }))).ToList();
        var stuck = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(45, 6), MaxTokens = 6, Constraint = new NothingAllowed() }));
        var throwing = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(46, 6), MaxTokens = 6, Constraint = new NothingAllowed(throws: true) }));
        Assert.Equal(FinishReason.Error, stuck.Finish.Reason);
        Assert.Contains("allows no next token", stuck.Finish.Error);
        Assert.Equal(FinishReason.Error, throwing.Finish.Reason);
        Assert.Contains("mask bug", throwing.Finish.Error);
        Assert.All(await Task.WhenAll(others), r => Assert.Equal(FinishReason.Length, r.Finish.Reason));
        Assert.Equal(0, engine.OccupiedSlotCount);
    }

    [Fact]
    public void MaskedSamplingPicksOnlyAllowedTokensAndReportsFiniteLogprobs()
    {
        var logits = Enumerable.Range(0, 100).Select(i => (float)Math.Sin(i)).ToArray();
        var mask = new uint[4];
        foreach (var id in new[] { 3, 40, 97 })
        {
            mask[id >> 5] |= 1u << (id & 31);
        }

        var greedy = new TokenSampler(100, new SamplingParams { TopLogprobs = 5 }).Sample(logits, mask);
        Assert.Equal(new[] { 3, 40, 97 }.MaxBy(i => logits[i]), greedy.Id);
        Assert.Equal(3, greedy.TopLogprobs!.Length);
        Assert.All(greedy.TopLogprobs, t => Assert.True(float.IsFinite(t.Logprob)));
        Assert.Equal(1.0, greedy.TopLogprobs.Sum(t => Math.Exp(t.Logprob)), 4);
        var sampler = new TokenSampler(100, new SamplingParams { Temperature = 2.0, Seed = 3 });
        var drawn = Enumerable.Range(0, 300).Select(_ => sampler.Sample(logits, mask).Id).ToHashSet();
        Assert.Subset(new HashSet<int> { 3, 40, 97 }, drawn);
        Assert.True(drawn.Count > 1);
    }

    /// <summary>A constraint with an empty mask (or a failing one): the engine must fail just its request.</summary>
    private sealed class NothingAllowed(bool throws = false) : ITokenConstraint
    {
        public int MaskLength => 10;

        public bool IsFinished => false;

        public void ComputeMask(Span<uint> bitmask)
        {
            if (throws)
            {
                throw new InvalidOperationException("mask bug");
            }

            bitmask.Clear();
        }

        public bool TryAccept(int tokenId) => false;
    }
}
