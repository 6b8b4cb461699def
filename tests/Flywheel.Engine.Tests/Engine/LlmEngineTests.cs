using Flywheel.Engine.Tests.Models;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Engine.Tests.Engine;

/// <summary>
/// The engine over the real tiny model: requests batched together (arriving at different steps, under every
/// policy and several chunk sizes) produce exactly the tokens they produce alone.
/// </summary>
public sealed class LlmEngineTests : IDisposable
{
    private static readonly int[] PromptLengths = [1, 5, 17, 40, 3, 60, 9];
    private static readonly int[] MaxTokens = [8, 3, 12, 5, 20, 7, 1];
    private readonly ModelFolder _model = ModelFolder.Open(TinyModel.Dir);

    public void Dispose() => _model.Dispose();

    private static int[] Prompt(int index, int length)
    {
        var random = new Random(100 + index);
        return Enumerable.Range(0, length).Select(_ => random.Next(1, 290)).ToArray();
    }

    private List<int> Alone(int[] prompt, int maxTokens, SamplingParams sampling)
    {
        using var generator = new TextGenerator(_model, Flywheel.Tokenization.Tokenizer.Load(SyntheticTokenizerDir.Value));
        return [.. generator.Generate(prompt, new GenerateParams { MaxTokens = maxTokens, IgnoreEos = true, Sampling = sampling }).TokenIds];
    }

    // TextGenerator needs a tokenizer for its text; the ids do not depend on it.
    private static readonly Lazy<string> SyntheticTokenizerDir = new(() =>
    {
        var dir = TestScratch.Path("engine-tok-" + Environment.ProcessId);
        Flywheel.Tokenization.SyntheticTokenizer.Write(dir, 300);
        return Path.Combine(dir, "tokenizer.json");
    });

    private static Task<(List<int> Tokens, FinishEvent Finish)> Collect(SubmitOutcome outcome) => EngineEvents.Collect(outcome);

    [Theory]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 1, true)]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 7, true)]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 64, true)]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 7, false)]
    [InlineData(SchedulingPolicy.ChunkedPrefill, 64, false)]
    [InlineData(SchedulingPolicy.PrefillFirst, 16, true)]
    [InlineData(SchedulingPolicy.Sequential, 16, true)]
    public async Task BatchedGreedyOutputsEqualOutputsAlone(SchedulingPolicy policy, int chunkSize, bool mixedRuns)
    {
        // mixedRuns: decodes and a chunk share one Run of the mixed graph; off, the separate Runs a model
        // folder without that graph gets.
        var prompts = PromptLengths.Select((length, i) => Prompt(i, length)).ToArray();
        var expected = prompts.Select((p, i) => Alone(p, MaxTokens[i], new SamplingParams())).ToArray();
        using var engine = new LlmEngine(_model, new EngineOptions { Policy = policy, ChunkSize = chunkSize, MaxBatchTokens = 24, MaxRunningRequests = 3, MixedRuns = mixedRuns });
        var steps = new System.Collections.Concurrent.ConcurrentQueue<StepReport>();
        engine.StepCompleted = steps.Enqueue;
        var first = Enumerable.Range(0, 4).Select(i => Collect(engine.TrySubmit(new EngineRequest { PromptIds = prompts[i], MaxTokens = MaxTokens[i], IgnoreEos = true }))).ToList();
        // The rest arrive while the first ones are running.
        while (engine.StepCount < 3)
        {
            await Task.Delay(1);
        }

        var rest = Enumerable.Range(4, prompts.Length - 4).Select(i => Collect(engine.TrySubmit(new EngineRequest { PromptIds = prompts[i], MaxTokens = MaxTokens[i], IgnoreEos = true }))).ToList();
        var results = await Task.WhenAll(first.Concat(rest));
        for (var i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(expected[i], results[i].Tokens);
            Assert.Equal(FinishReason.Length, results[i].Finish.Reason);
            Assert.Equal(MaxTokens[i], results[i].Finish.CompletionTokenCount);
        }

        Assert.Equal(0, engine.RunningCount);
        Assert.Equal(0, engine.OccupiedSlotCount);

        // Mixed Runs happen exactly when the step has decodes and prompt work and the engine may use them;
        // a step with both never takes a separate decode Run then.
        var mixedSteps = steps.Count(r => r.MixedRuns > 0);
        if (mixedRuns && policy == SchedulingPolicy.ChunkedPrefill)
        {
            Assert.True(mixedSteps > 0, "no step ran decodes and a chunk together");
            Assert.DoesNotContain(steps, r => r.DecodeRuns > 0 && r.ChunkTokens > 0);
        }
        else
        {
            Assert.Equal(0, mixedSteps);
        }

        Assert.All(steps, r => Assert.True(r.MixedRuns <= 1 && r.DecodeRuns + r.MixedRuns <= 1, $"{r}"));
    }

    [Fact]
    public async Task SeededSampledRequestIsTheSameAloneAndInABatch()
    {
        var sampling = new SamplingParams { Temperature = 0.9, TopK = 40, Seed = 1234 };
        var prompt = Prompt(99, 12);
        var alone = Alone(prompt, 15, sampling);
        using var engine = new LlmEngine(_model, new EngineOptions { ChunkSize = 5, MaxBatchTokens = 16, MaxRunningRequests = 4 });
        var others = Enumerable.Range(0, 3).Select(i => Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(i, 20), MaxTokens = 10, IgnoreEos = true, Sampling = sampling with { Seed = i } }))).ToList();
        var mine = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = prompt, MaxTokens = 15, IgnoreEos = true, Sampling = sampling }));
        await Task.WhenAll(others);
        Assert.Equal(alone, mine.Tokens);
    }

    [Fact]
    public async Task AbortAtEveryStageFreesTheSlot()
    {
        using var engine = new LlmEngine(_model, new EngineOptions { ChunkSize = 2, MaxBatchTokens = 4, MaxRunningRequests = 2 });
        using var decoding = new CancellationTokenSource();
        using var midPrompt = new CancellationTokenSource();
        using var queued = new CancellationTokenSource();
        engine.BeforeStep = step =>
        {
            if (step == 6)
            {
                decoding.Cancel();   // its 3-token prompt is done by now: it is decoding
                midPrompt.Cancel();  // 100 tokens at 2 per step: still in its prompt
                queued.Cancel();     // both slots are taken: still waiting
            }
        };
        var a = Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(1, 3), MaxTokens = 200, IgnoreEos = true, CancellationToken = decoding.Token }));
        var b = Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(2, 100), MaxTokens = 5, IgnoreEos = true, CancellationToken = midPrompt.Token }));
        var c = Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(3, 4), MaxTokens = 5, IgnoreEos = true, CancellationToken = queued.Token }));
        var results = await Task.WhenAll(a, b, c);
        Assert.All(results, r => Assert.Equal(FinishReason.Abort, r.Finish.Reason));
        Assert.NotEmpty(results[0].Tokens);
        Assert.Empty(results[1].Tokens);
        Assert.Empty(results[2].Tokens);
        Assert.Equal(0, engine.OccupiedSlotCount);
        var after = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(4, 6), MaxTokens = 4, IgnoreEos = true }));
        Assert.Equal(4, after.Tokens.Count);
    }

    [Fact]
    public async Task AContextLimitBelowTheModelsSizesTheCacheAndKeepsOutputs()
    {
        // --max-model-len: an imported checkpoint's context is its max_position_embeddings (128k for Llama 3),
        // far more KV per slot than a host has; the limit sizes the cache and bounds requests.
        using var limited = ModelFolder.Open(TinyModel.Dir);
        var full = limited.Config.ContextLength;
        Assert.Throws<ArgumentOutOfRangeException>(() => limited.LimitContext(full + 1));
        limited.LimitContext(48);
        using var engine = new LlmEngine(limited, new EngineOptions { ChunkSize = 8, MaxBatchTokens = 16, MaxRunningRequests = 2 });
        Assert.Equal(48, engine.ContextLength);

        var prompt = Prompt(7, 20);
        var (tokens, finish) = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = prompt, MaxTokens = 10, IgnoreEos = true }));
        Assert.Equal(FinishReason.Length, finish.Reason);
        Assert.Equal(Alone(prompt, 10, new SamplingParams()), tokens);

        // Up to the limit, a request runs to it; past it, it is refused at submission.
        var (last, lastFinish) = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(8, 40), MaxTokens = 8, IgnoreEos = true }));
        Assert.Equal(8, last.Count);
        Assert.Equal(FinishReason.Length, lastFinish.Reason);
        var refused = engine.TrySubmit(new EngineRequest { PromptIds = Prompt(9, 41), MaxTokens = 8, IgnoreEos = true });
        Assert.False(refused.Accepted);
        Assert.Contains("48", refused.Error);
    }

    [Fact]
    public async Task AFailedStepFailsOnlyItsRequests()
    {
        using var engine = new LlmEngine(_model, new EngineOptions { ChunkSize = 8, MaxBatchTokens = 16, MaxRunningRequests = 2 });
        // Step 0 waits until both requests are in, so both run in step 1 whatever the timing: on a busy host
        // the second could otherwise arrive after the faulty step and finish normally.
        using var bothSubmitted = new ManualResetEventSlim();
        engine.BeforeStep = step =>
        {
            if (step == 0)
            {
                bothSubmitted.Wait(TimeSpan.FromSeconds(30));
            }

            if (step == 1)
            {
                throw new InvalidOperationException("injected fault");
            }
        };
        var requests = Enumerable.Range(0, 2).Select(i => Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(i, 20), MaxTokens = 5, IgnoreEos = true }))).ToList();
        bothSubmitted.Set();
        var failed = await Task.WhenAll(requests);
        Assert.All(failed, r => Assert.Equal(FinishReason.Error, r.Finish.Reason));
        Assert.Contains("injected fault", failed[0].Finish.Error);
        var later = await Collect(engine.TrySubmit(new EngineRequest { PromptIds = Prompt(5, 4), MaxTokens = 3, IgnoreEos = true }));
        Assert.Equal(FinishReason.Length, later.Finish.Reason);
        Assert.Equal(0, engine.OccupiedSlotCount);
    }

    [Fact]
    public void BadRequestsAreRefusedAtSubmission()
    {
        using var engine = new LlmEngine(_model, new EngineOptions { MaxRunningRequests = 2, MaxBatchTokens = 8, QueueCapacity = 1 });
        var context = _model.Config.ContextLength;
        Assert.Contains("context length", engine.TrySubmit(new EngineRequest { PromptIds = new int[context], MaxTokens = 1 }).Error);
        Assert.Contains("max_tokens", engine.TrySubmit(new EngineRequest { PromptIds = [1, 2], MaxTokens = context }).Error);
        Assert.Contains("top_p", engine.TrySubmit(new EngineRequest { PromptIds = [1], MaxTokens = 1, Sampling = new SamplingParams { TopP = 0 } }).Error);
        Assert.Contains("vocabulary", engine.TrySubmit(new EngineRequest { PromptIds = [100000], MaxTokens = 1 }).Error);
    }

    [Fact]
    public async Task AFullQueueIsReported()
    {
        using var engine = new LlmEngine(_model, new EngineOptions { MaxRunningRequests = 1, MaxBatchTokens = 4, QueueCapacity = 1 });
        using var gate = new ManualResetEventSlim();
        engine.BeforeStep = _ => gate.Wait(TimeSpan.FromSeconds(10));
        var outcomes = Enumerable.Range(0, 6).Select(i => engine.TrySubmit(new EngineRequest { PromptIds = [1, 2, 3], MaxTokens = 2 })).ToList();
        Assert.Contains(outcomes, o => o.QueueFull);
        gate.Set();
        foreach (var o in outcomes.Where(o => o.Accepted))
        {
            Assert.Equal(FinishReason.Length, (await Collect(o)).Finish.Reason);
        }
    }
}
