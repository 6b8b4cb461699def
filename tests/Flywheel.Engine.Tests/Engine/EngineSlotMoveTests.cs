using Flywheel.Engine.Tests.Models;
using Flywheel.Execution;
using Flywheel.Models;
using Flywheel.Sampling;
using Flywheel.Scheduling;

namespace Flywheel.Engine.Tests.Engine;

/// <summary>Requests finishing at different times move KV between slots; outputs must still equal single-request generation.</summary>
public sealed class EngineSlotMoveTests
{
    [Theory]
    [InlineData(1, 1, 64)]
    [InlineData(1, 2, 64)]
    [InlineData(2, 2, 64)]
    [InlineData(3, 3, 64)]
    [InlineData(4, 2, 64)]
    [InlineData(3, 3, 2)]
    [InlineData(4, 4, 64)]
    public async Task OutputsMatchSingleRequestGeneration(int requests, int maxRunning, int chunk)
    {
        using var model = ModelFolder.Open(TinyModel.Dir);
        var dir = TestScratch.Path("slotmove-tok-" + Environment.ProcessId);
        Flywheel.Tokenization.SyntheticTokenizer.Write(dir, 300);
        using var gen = new TextGenerator(model, Flywheel.Tokenization.Tokenizer.Load(Path.Combine(dir, "tokenizer.json")));
        using var engine = new LlmEngine(model, new EngineOptions { MaxRunningRequests = maxRunning, MaxBatchTokens = 128, ChunkSize = chunk });
        var prompts = Enumerable.Range(0, requests).Select(i => Enumerable.Range(0, 5 + i).Select(t => 10 + t + i).ToArray()).ToArray();
        var outs = prompts.Select(p => engine.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = 20 - (3 * Array.IndexOf(prompts, p)), IgnoreEos = true })).ToList();
        for (var i = 0; i < requests; i++)
        {
            var got = new List<int>();
            await foreach (var e in outs[i].Events!.ReadAllAsync())
            {
                if (e is TokenEvent t) got.Add(t.Token.Id);
            }

            var exp = gen.Generate(prompts[i], new GenerateParams { MaxTokens = 20 - (3 * i), IgnoreEos = true }).TokenIds;
            Assert.True(exp.SequenceEqual(got), $"req {i}: exp {string.Join(",", exp)} got {string.Join(",", got)}");
        }
    }

    [Theory]
    [InlineData(new[] { 5, 12, 5, 12 })]
    [InlineData(new[] { 12, 5, 5, 12 })]
    [InlineData(new[] { 5, 5, 12, 5 })]
    public async Task RequestsFinishingInTheSameStepLeaveTheOthersIntact(int[] maxTokens)
    {
        // Same-length prompts submitted together decode in lockstep, so the short ones finish in one step
        // and the slot table frees several decode slots at once, moving survivors into the holes.
        using var model = ModelFolder.Open(TinyModel.Dir);
        var dir = TestScratch.Path("slotmove-tok-" + Environment.ProcessId);
        Flywheel.Tokenization.SyntheticTokenizer.Write(dir, 300);
        using var gen = new TextGenerator(model, Flywheel.Tokenization.Tokenizer.Load(Path.Combine(dir, "tokenizer.json")));
        using var engine = new LlmEngine(model, new EngineOptions { MaxRunningRequests = maxTokens.Length, MaxBatchTokens = 128 });
        var prompts = maxTokens.Select((_, i) => Enumerable.Range(0, 6).Select(t => 20 + (7 * i) + t).ToArray()).ToArray();
        var outs = prompts.Select((p, i) => engine.TrySubmit(new EngineRequest { PromptIds = p, MaxTokens = maxTokens[i], IgnoreEos = true })).ToList();
        for (var i = 0; i < prompts.Length; i++)
        {
            var got = new List<int>();
            await foreach (var e in outs[i].Events!.ReadAllAsync())
            {
                if (e is TokenEvent t) got.Add(t.Token.Id);
            }

            var exp = gen.Generate(prompts[i], new GenerateParams { MaxTokens = maxTokens[i], IgnoreEos = true }).TokenIds;
            Assert.True(exp.SequenceEqual(got), $"req {i}: exp {string.Join(",", exp)} got {string.Join(",", got)}");
        }

        Assert.Equal(0, engine.OccupiedSlotCount);
    }
}
