using Flywheel.Execution;

namespace Flywheel.Scheduling;

/// <summary>
/// Owns the waiting queue (FCFS) and the running requests (admission order) and decides each step's work
/// from them: which requests decode, which prompt chunks run, who is admitted. No model, no threads, no
/// KV cache: the engine gives it the free slot count and applies the plan. A new policy is one more
/// <c>Plan...</c> method here and one more <see cref="SchedulingPolicy"/> value.
/// </summary>
internal sealed class Scheduler(EngineOptions options)
{
    private readonly List<Sequence> _waiting = [];
    private readonly List<Sequence> _running = [];

    public EngineOptions Options { get; } = options;

    /// <summary>Requests waiting for admission, first come first.</summary>
    public IReadOnlyList<Sequence> Waiting => _waiting;

    /// <summary>Admitted requests, oldest first.</summary>
    public IReadOnlyList<Sequence> Running => _running;

    public bool IsIdle => _waiting.Count == 0 && _running.Count == 0;

    public void Enqueue(Sequence sequence) => _waiting.Add(sequence);

    /// <summary>Takes a finished request out of the running set; false when it was not running.</summary>
    public bool Remove(Sequence sequence) => _running.Remove(sequence);

    /// <summary>Takes a request out of the waiting queue (it was cancelled before admission).</summary>
    public void RemoveWaitingAt(int index) => _waiting.RemoveAt(index);

    public void ClearWaiting() => _waiting.Clear();

    /// <summary>Plans one step into <paramref name="plan"/> and moves the requests it admits from waiting to running.</summary>
    /// <param name="freeSlots">KV slots free for admission.</param>
    public void Schedule(int freeSlots, StepPlan plan)
    {
        plan.Clear();
        switch (Options.Policy)
        {
            case SchedulingPolicy.ChunkedPrefill: PlanChunkedPrefill(freeSlots, plan); break;
            case SchedulingPolicy.PrefillFirst: PlanPrefillFirst(freeSlots, plan); break;
            default: PlanSequential(plan); break;
        }

        _waiting.RemoveRange(0, plan.Admitted.Count);
        _running.AddRange(plan.Admitted);
    }

    private void PlanChunkedPrefill(int freeSlots, StepPlan plan)
    {
        var budget = Options.MaxBatchTokens;
        foreach (var s in _running)
        {
            if (!s.IsPrefilling && budget > 0)
            {
                plan.Decodes.Add(s);
                budget--;
            }
        }

        foreach (var s in _running)
        {
            if (s.IsPrefilling && budget > 0)
            {
                var length = Math.Min(Math.Min(Options.ChunkSize, s.PromptLength - s.ComputedTokenCount), budget);
                plan.Chunks.Add(new PlannedChunk(s, s.ComputedTokenCount, length));
                budget -= length;
            }
        }

        var slots = Math.Min(freeSlots, Options.MaxRunningRequests - _running.Count);
        while (plan.Admitted.Count < _waiting.Count && plan.Admitted.Count < slots && budget > 0)
        {
            var s = _waiting[plan.Admitted.Count];
            var length = Math.Min(Math.Min(Options.ChunkSize, s.PromptLength), budget);
            plan.Chunks.Add(new PlannedChunk(s, 0, length));
            plan.Admitted.Add(s);
            budget -= length;
        }
    }

    private void PlanPrefillFirst(int freeSlots, StepPlan plan)
    {
        // Whole prompts, no chunking, as long as any prompt is pending; decodes wait meanwhile.
        var slots = Math.Min(freeSlots, Options.MaxRunningRequests - _running.Count);
        var budget = Options.MaxBatchTokens;
        foreach (var s in _running)
        {
            if (s.IsPrefilling)
            {
                plan.Chunks.Add(new PlannedChunk(s, s.ComputedTokenCount, s.PromptLength - s.ComputedTokenCount));
                budget -= s.PromptLength - s.ComputedTokenCount;
            }
        }

        // Admit while the budget lasts; the first prompt of a step is always taken whole, even past the budget.
        while (plan.Admitted.Count < _waiting.Count && plan.Admitted.Count < slots && (budget > 0 || plan.Chunks.Count == 0))
        {
            var s = _waiting[plan.Admitted.Count];
            plan.Chunks.Add(new PlannedChunk(s, 0, s.PromptLength));
            plan.Admitted.Add(s);
            budget -= s.PromptLength;
        }

        if (plan.Chunks.Count == 0)
        {
            plan.Decodes.AddRange(_running);
        }
    }

    private void PlanSequential(StepPlan plan)
    {
        if (_running.Count == 0)
        {
            if (_waiting.Count > 0)
            {
                plan.Chunks.Add(new PlannedChunk(_waiting[0], 0, _waiting[0].PromptLength));
                plan.Admitted.Add(_waiting[0]);
            }

            return;
        }

        plan.Decodes.Add(_running[0]);
    }
}
