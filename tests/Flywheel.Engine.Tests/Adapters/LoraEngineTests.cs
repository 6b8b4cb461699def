using Flywheel.Adapters;
using Flywheel.Engine.Tests.Engine;
using Flywheel.Engine.Tests.Models;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Engine.Tests.Adapters;

/// <summary>
/// The engine with adapters in its slots: greedy outputs of concurrent requests over several adapters and
/// the base equal each request alone; a base request is unchanged by loaded adapters; unloading aborts the
/// slot's requests and a reused slot holds only the new adapter; models without the LoRA graph refuse.
/// </summary>
public sealed class LoraEngineTests : IDisposable
{
    private readonly ModelFolder _model = ModelFolder.Open(TinyLoraModel.Dir);

    public void Dispose() => _model.Dispose();

    private static PeftAdapter Adapter(int seed, int rank = 4, params LoraTarget[] targets) =>
        PeftAdapter.Load(AdapterFolder.Write(AdapterFolder.Config(rank: rank, alpha: 2 * rank, targets: targets), seed), AdapterFolder.Shape, maxRank: 8);

    private static int[] Prompt(int index, int length)
    {
        var random = new Random(300 + index);
        return Enumerable.Range(0, length).Select(_ => random.Next(1, 290)).ToArray();
    }

    private static EngineRequest Request(int index, int adapterSlot, int maxTokens = 8, CancellationToken cancellation = default) =>
        new() { PromptIds = Prompt(index, 3 + (index * 5 % 17)), MaxTokens = maxTokens, IgnoreEos = true, AdapterSlot = adapterSlot, CancellationToken = cancellation };

    private static async Task<List<int>> Tokens(LlmEngine engine, EngineRequest request) => (await EngineEvents.Collect(engine.TrySubmit(request))).Tokens;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task ConcurrentRequestsOverSeveralAdaptersEqualEachAlone(bool mixedRuns, bool oneAdapterPerRun)
    {
        var options = new EngineOptions { MaxLoraCount = 3, MaxLoraRank = 8, MaxRunningRequests = 6, MaxBatchTokens = 24, ChunkSize = 8, MixedRuns = mixedRuns, OneAdapterPerRun = oneAdapterPerRun };
        using var engine = new LlmEngine(_model, options);
        Assert.True(engine.SupportsAdapters, engine.AdapterUnsupportedReason);
        var slots = new List<int> { 0 };
        foreach (var (seed, rank, targets) in new[] { (21, 8, Array.Empty<LoraTarget>()), (22, 2, [LoraTarget.QProj, LoraTarget.VProj]), (23, 4, [LoraTarget.DownProj, LoraTarget.OProj]) })
        {
            slots.Add(await engine.LoadAdapterAsync(Adapter(seed, rank, targets)));
        }

        Assert.Equal([0, 1, 2, 3], slots);
        var requests = Enumerable.Range(0, 10).Select(i => Request(i, slots[i % slots.Count], maxTokens: 6 + (i % 3))).ToArray();
        var alone = new List<int>[requests.Length];
        for (var i = 0; i < requests.Length; i++)
        {
            alone[i] = await Tokens(engine, requests[i]);
        }

        var steps = new System.Collections.Concurrent.ConcurrentQueue<StepReport>();
        engine.StepCompleted = steps.Enqueue;
        var together = await Task.WhenAll(requests.Select(r => Tokens(engine, r)));
        for (var i = 0; i < requests.Length; i++)
        {
            Assert.Equal(alone[i], together[i]);
        }

        // The Runs were what the options ask for: mixed-adapter decode Runs (one per step), or one per adapter.
        Assert.Equal(oneAdapterPerRun, steps.Any(r => r.DecodeRuns > 1));
        Assert.Equal(mixedRuns, steps.Any(r => r.MixedRuns > 0));

        // The adapters matter: the same prompt gives different greedy outputs on different slots.
        var outputs = await Task.WhenAll(slots.Select(s => Tokens(engine, Request(0, s, maxTokens: 12))));
        Assert.Equal(slots.Count, outputs.Select(o => string.Join(',', o)).Distinct().Count());
    }

    [Fact]
    public async Task ABaseRequestIsUnchangedByLoadedAdaptersAndMatchesThePlainModel()
    {
        using var plainModel = ModelFolder.Open(TinyModel.Dir);
        using var plain = new LlmEngine(plainModel, new EngineOptions());
        var expected = await Tokens(plain, Request(5, 0, maxTokens: 16));
        using var engine = new LlmEngine(_model, new EngineOptions { MaxLoraCount = 2, MaxLoraRank = 8 });
        Assert.Equal(expected, await Tokens(engine, Request(5, 0, maxTokens: 16)));
        var slot = await engine.LoadAdapterAsync(Adapter(31));
        var withAdapter = Tokens(engine, Request(5, slot, maxTokens: 16));
        Assert.Equal(expected, await Tokens(engine, Request(5, 0, maxTokens: 16)));
        Assert.NotEqual(expected, await withAdapter);
    }

    [Fact]
    public async Task UnloadAbortsTheSlotsRequestsAndAReusedSlotHoldsOnlyTheNewAdapter()
    {
        var options = new EngineOptions { MaxLoraCount = 2, MaxLoraRank = 8, MaxRunningRequests = 2, MaxBatchTokens = 8 };
        var replacement = Adapter(42, rank: 2, LoraTarget.UpProj);
        List<int> expected;
        using (var fresh = new LlmEngine(_model, options))
        {
            expected = await Tokens(fresh, Request(7, await fresh.LoadAdapterAsync(replacement), maxTokens: 10));
        }

        using var engine = new LlmEngine(_model, options);
        var first = await engine.LoadAdapterAsync(Adapter(41, rank: 8));
        var second = await engine.LoadAdapterAsync(Adapter(43));
        Assert.Equal((1, 2), (first, second));
        var full = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.LoadAdapterAsync(Adapter(44)));
        Assert.Contains("no free adapter slot", full.Message);

        // One request of the first adapter decoding, one waiting for a KV slot, one on the other adapter.
        var running = EngineEvents.Collect(engine.TrySubmit(Request(1, first, maxTokens: 200)));
        var other = EngineEvents.Collect(engine.TrySubmit(Request(2, second, maxTokens: 200)));
        var waiting = EngineEvents.Collect(engine.TrySubmit(Request(3, first, maxTokens: 5)));
        while (engine.GeneratedTokenCount < 4)
        {
            await Task.Delay(1);
        }

        await engine.UnloadAdapterAsync(first);
        var (runningResult, waitingResult) = (await running, await waiting);
        Assert.Equal(FinishReason.Abort, runningResult.Finish.Reason);
        Assert.Equal(FinishReason.Abort, waitingResult.Finish.Reason);
        Assert.True(runningResult.Tokens.Count < 200);
        Assert.Equal(FinishReason.Length, (await other).Finish.Reason);

        var refused = engine.TrySubmit(Request(4, first));
        Assert.False(refused.Accepted);
        Assert.Contains("not loaded", refused.Error);
        await Assert.ThrowsAsync<InvalidOperationException>(() => engine.UnloadAdapterAsync(first));

        // The freed slot is reused; the old rank-8 adapter's columns must be gone.
        Assert.Equal(first, await engine.LoadAdapterAsync(replacement));
        Assert.Equal(expected, await Tokens(engine, Request(7, first, maxTokens: 10)));
        Assert.Equal(0, engine.OccupiedSlotCount);
    }

    [Fact]
    public async Task UnloadOnAnIdleEngineCompletesAndARankOverTheLimitIsRefused()
    {
        using var engine = new LlmEngine(_model, new EngineOptions { MaxLoraCount = 1, MaxLoraRank = 4 });
        var tooLarge = await Assert.ThrowsAsync<ArgumentException>(() => engine.LoadAdapterAsync(Adapter(51, rank: 8)));
        Assert.Contains("rank 8", tooLarge.Message);
        var slot = await engine.LoadAdapterAsync(Adapter(52, rank: 4));
        await engine.UnloadAdapterAsync(slot).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(slot, await engine.LoadAdapterAsync(Adapter(53, rank: 2)));
    }

    [Fact]
    public async Task AModelWithoutTheLoraGraphRefusesAdaptersNamingTheRemedy()
    {
        using var plainModel = ModelFolder.Open(TinyModel.Dir);
        using var engine = new LlmEngine(plainModel, new EngineOptions { MaxLoraCount = 2 });
        Assert.False(engine.SupportsAdapters);
        Assert.Contains("make-model --lora", engine.AdapterUnsupportedReason);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => engine.LoadAdapterAsync(Adapter(61)));
        Assert.Contains("make-model --lora", e.Message);
        Assert.False(engine.TrySubmit(Request(1, adapterSlot: 1)).Accepted);

        using var noSlots = new LlmEngine(_model, new EngineOptions());
        Assert.False(noSlots.SupportsAdapters);
        Assert.Contains("--max-loras", noSlots.AdapterUnsupportedReason);
        Assert.Equal(8, (await Tokens(noSlots, Request(2, 0))).Count); // the LoRA graph still serves the base
    }
}
