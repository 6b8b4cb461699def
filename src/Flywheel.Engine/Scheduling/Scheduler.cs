namespace Flywheel.Scheduling;

/// <summary>What the scheduler knows of one admitted request.</summary>
/// <param name="Id">Request id.</param>
/// <param name="PromptLength">Prompt tokens.</param>
/// <param name="ComputedTokenCount">Tokens already in the KV cache.</param>
public readonly record struct SequenceView(long Id, int PromptLength, int ComputedTokenCount)
{
    public bool IsPrefilling => ComputedTokenCount < PromptLength;
}

/// <summary>A prompt chunk to run: <see cref="Length"/> prompt tokens of a request starting at <see cref="Start"/>.</summary>
public readonly record struct PlannedChunk(long Id, int Start, int Length);

/// <summary>One step's work.</summary>
public sealed class StepPlan
{
    /// <summary>Running requests that decode one token this step (in the order given).</summary>
    public List<long> Decodes { get; } = [];

    /// <summary>Prompt chunks, continuing ones first, then those of newly admitted requests.</summary>
    public List<PlannedChunk> Chunks { get; } = [];

    /// <summary>How many waiting requests (from the front of the queue) are admitted this step.</summary>
    public int AdmittedCount { get; set; }

    public int TokenCount => Decodes.Count + Chunks.Sum(c => c.Length);

    public void Clear()
    {
        Decodes.Clear();
        Chunks.Clear();
        AdmittedCount = 0;
    }
}

/// <summary>
/// Decides each step's work from the running requests (oldest first) and the waiting queue (FCFS).
/// Pure: no model, no threads; the engine applies the plan.
/// </summary>
public sealed class Scheduler(EngineOptions options)
{
    public EngineOptions Options { get; } = options;

    /// <param name="running">Admitted requests, oldest first.</param>
    /// <param name="waitingPromptLengths">Prompt lengths of waiting requests, FCFS order.</param>
    /// <param name="freeSlots">KV slots free for admission.</param>
    public void Plan(IReadOnlyList<SequenceView> running, IReadOnlyList<int> waitingPromptLengths, int freeSlots, StepPlan plan)
    {
        plan.Clear();
        switch (Options.Policy)
        {
            case SchedulingPolicy.FlyWheel: PlanFlyWheel(running, waitingPromptLengths, freeSlots, plan); break;
            case SchedulingPolicy.PrefillFirst: PlanPrefillFirst(running, waitingPromptLengths, freeSlots, plan); break;
            default: PlanSequential(running, waitingPromptLengths, plan); break;
        }
    }

    private void PlanFlyWheel(IReadOnlyList<SequenceView> running, IReadOnlyList<int> waiting, int freeSlots, StepPlan plan)
    {
        var budget = Options.MaxBatchTokens;
        foreach (var s in running)
        {
            if (!s.IsPrefilling && budget > 0)
            {
                plan.Decodes.Add(s.Id);
                budget--;
            }
        }

        foreach (var s in running)
        {
            if (s.IsPrefilling && budget > 0)
            {
                var length = Math.Min(Math.Min(Options.ChunkSize, s.PromptLength - s.ComputedTokenCount), budget);
                plan.Chunks.Add(new PlannedChunk(s.Id, s.ComputedTokenCount, length));
                budget -= length;
            }
        }

        var slots = Math.Min(freeSlots, Options.MaxRunningRequests - running.Count);
        while (plan.AdmittedCount < waiting.Count && plan.AdmittedCount < slots && budget > 0)
        {
            var length = Math.Min(Math.Min(Options.ChunkSize, waiting[plan.AdmittedCount]), budget);
            plan.Chunks.Add(new PlannedChunk(-1 - plan.AdmittedCount, 0, length));
            budget -= length;
            plan.AdmittedCount++;
        }
    }

    private void PlanPrefillFirst(IReadOnlyList<SequenceView> running, IReadOnlyList<int> waiting, int freeSlots, StepPlan plan)
    {
        // Whole prompts, no chunking, as long as any prompt is pending; decodes wait meanwhile.
        var slots = Math.Min(freeSlots, Options.MaxRunningRequests - running.Count);
        var budget = Options.MaxBatchTokens;
        foreach (var s in running)
        {
            if (s.IsPrefilling)
            {
                plan.Chunks.Add(new PlannedChunk(s.Id, s.ComputedTokenCount, s.PromptLength - s.ComputedTokenCount));
                budget -= s.PromptLength - s.ComputedTokenCount;
            }
        }

        // Admit while the budget lasts; the first prompt of a step is always taken whole, even past the budget.
        while (plan.AdmittedCount < waiting.Count && plan.AdmittedCount < slots && (budget > 0 || plan.Chunks.Count == 0))
        {
            plan.Chunks.Add(new PlannedChunk(-1 - plan.AdmittedCount, 0, waiting[plan.AdmittedCount]));
            budget -= waiting[plan.AdmittedCount];
            plan.AdmittedCount++;
        }

        if (plan.Chunks.Count == 0)
        {
            foreach (var s in running)
            {
                plan.Decodes.Add(s.Id);
            }
        }
    }

    private static void PlanSequential(IReadOnlyList<SequenceView> running, IReadOnlyList<int> waiting, StepPlan plan)
    {
        if (running.Count == 0)
        {
            if (waiting.Count > 0)
            {
                plan.Chunks.Add(new PlannedChunk(-1, 0, waiting[0]));
                plan.AdmittedCount = 1;
            }

            return;
        }

        plan.Decodes.Add(running[0].Id);
    }
}
