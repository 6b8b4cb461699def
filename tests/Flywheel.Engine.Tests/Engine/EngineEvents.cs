using Flywheel.Execution;

namespace Flywheel.Engine.Tests.Engine;

/// <summary>Reads a submitted request's events to the end: its token ids and its finish event.</summary>
internal static class EngineEvents
{
    public static async Task<(List<int> Tokens, FinishEvent Finish)> Collect(SubmitOutcome outcome)
    {
        Assert.True(outcome.Accepted, outcome.Error ?? "queue full");
        var tokens = new List<int>();
        FinishEvent? finish = null;
        await foreach (var e in outcome.Events!.ReadAllAsync())
        {
            if (e is TokenEvent t)
            {
                tokens.Add(t.Token.Id);
            }
            else
            {
                finish = (FinishEvent)e;
            }
        }

        return (tokens, finish!);
    }
}
