using System.Threading.Channels;
using Flywheel.Execution;
using Flywheel.Scheduling;

namespace Flywheel.Engine.Tests.Scheduling;

/// <summary>How a step's plan becomes Runs, without a model: grouping of first chunks under the Run-cost model, pieces, mixed Runs.</summary>
public sealed class RunPlannerTests
{
    private static Sequence At(int slot, int promptLength, int computed = 0) =>
        new(slot, new EngineRequest { PromptIds = new int[promptLength], MaxTokens = 1 }, Channel.CreateUnbounded<EngineEvent>().Writer, 0)
        {
            Slot = slot,
            ComputedTokenCount = computed,
        };

    private static StepPlan Plan(IEnumerable<Sequence> decodes, params PlannedChunk[] chunks)
    {
        var plan = new StepPlan();
        plan.Decodes.AddRange(decodes);
        plan.Chunks.AddRange(chunks);
        return plan;
    }

    [Fact]
    public void NeighbouringFirstChunksSharePaddedRunsWhilePaddingCostsLessThanARun()
    {
        Sequence[] s = [At(5, 10), At(6, 12), At(7, 40), At(9, 10)];
        var plan = Plan([], new(s[3], 0, 10), new(s[2], 0, 40), new(s[1], 0, 12), new(s[0], 0, 10));
        var planner = new RunPlanner(maxTokensPerRun: 128, canRunMixed: false, runOverheadTokens: 24);
        planner.Plan(plan);

        // Slots 5 and 6 share a width of 12 (24 tokens against 22 + one Run); slot 7 would make 3 x 40 = 120 against
        // 24 + 40 + one Run = 88; slot 9 is not a neighbour.
        Assert.Equal(
            [new Run(RunKind.FirstChunks, First: 0, Rows: 2, Width: 12), new Run(RunKind.Chunk, s[2], 0, 40), new Run(RunKind.Chunk, s[3], 0, 10)],
            planner.Runs);

        // Without a fixed cost per Run, no padding pays.
        var noOverhead = new RunPlanner(128, false, 0);
        noOverhead.Plan(plan);
        Assert.All(noOverhead.Runs, r => Assert.Equal(RunKind.Chunk, r.Kind));
    }

    [Fact]
    public void ALongChunkRunsInPiecesBeforeTheDecodes()
    {
        Sequence[] decodes = [At(1, 3, 4), At(0, 3, 3)];
        var prompt = At(4, 300, 20);
        var planner = new RunPlanner(maxTokensPerRun: 64, canRunMixed: false, runOverheadTokens: 24);
        planner.Plan(Plan(decodes, new PlannedChunk(prompt, 20, 150)));
        Assert.Equal(
            [new Run(RunKind.Chunk, prompt, 20, 64), new Run(RunKind.Chunk, prompt, 84, 64), new Run(RunKind.Chunk, prompt, 148, 22), new Run(RunKind.Decode)],
            planner.Runs);
        Assert.Equal([decodes[1], decodes[0]], planner.DecodeRows); // slot order
    }

    [Fact]
    public void AMixedRunTakesAContinuingChunkFirstElseTheLongestFirstChunk()
    {
        var decode = At(0, 2, 2);
        var (first, longer, continuing) = (At(5, 8), At(6, 20), At(7, 50, 16));
        var planner = new RunPlanner(maxTokensPerRun: 64, canRunMixed: true, runOverheadTokens: 24);
        planner.Plan(Plan([decode], new(continuing, 16, 16), new(first, 0, 8), new(longer, 0, 20)));
        Assert.Equal(new Run(RunKind.Mixed, continuing, 16, 16), planner.Runs[^1]);

        planner.Plan(Plan([decode], new(first, 0, 8), new(longer, 0, 20)));
        Assert.Equal([new Run(RunKind.Chunk, first, 0, 8), new Run(RunKind.Mixed, longer, 0, 20)], planner.Runs);
    }
}
