using System.Threading.Channels;

namespace Flywheel.Execution;

/// <summary>The outcome of <see cref="LlmEngine.TrySubmit"/>.</summary>
public sealed record SubmitOutcome(long Id, ChannelReader<EngineEvent>? Events, string? Error, bool QueueFull)
{
    public bool Accepted => Events is not null;
}
