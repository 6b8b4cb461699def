using Flywheel.Execution;
using Flywheel.Sampling;

namespace Flywheel.Benchmarks;

/// <summary>Waits for submitted benchmark requests, which all run to max_tokens (IgnoreEos).</summary>
internal static class EngineDrain
{
    /// <summary>Reads every request's events to the end; a refusal, or a finish other than Length, is a broken run and throws.</summary>
    public static void WaitAll(IEnumerable<SubmitOutcome> outcomes)
    {
        foreach (var outcome in outcomes)
        {
            var events = outcome.Events ?? throw new InvalidOperationException($"the engine refused a request: {outcome.Error}");
            while (events.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                while (events.TryRead(out var e))
                {
                    if (e is FinishEvent { Reason: not FinishReason.Length } f)
                    {
                        throw new InvalidOperationException($"request ended with {f.Reason}: {f.Error}");
                    }
                }
            }
        }
    }
}
