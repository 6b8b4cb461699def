using Flywheel.LoadGen.Arrival;
using Flywheel.LoadGen.Client;

namespace Flywheel.LoadGen.Running;

/// <summary>
/// One stretch of load with one shape: a plain run has one phase, a sweep one per step.
/// Bounded twice: issuing stops after <see cref="WarmupSeconds"/> + <see cref="IssueSeconds"/> (or
/// <see cref="RequestCount"/> measured requests), and anything still running is cut
/// <see cref="RequestTimeout"/> later.
/// </summary>
/// <param name="Arrival">Open-loop arrivals, or null for a closed loop of <paramref name="Concurrency"/> users.</param>
internal sealed record PhasePlan(
    string Name,
    int Step,
    ArrivalProcess? Arrival,
    int Concurrency,
    int? MaxInFlight,
    double WarmupSeconds,
    double IssueSeconds,
    int? RequestCount,
    TimeSpan RequestTimeout)
{
    public string Describe() => Arrival is null ? $"closed loop, concurrency {Concurrency}" : $"open loop, {Arrival}";
}

/// <summary>What a phase produced.</summary>
/// <param name="NextIndex">The first request index free for the next phase.</param>
/// <param name="StoppedEarly">Why issuing stopped before its bounds, if it did (for example the server went away).</param>
internal sealed record PhaseResult(PhasePlan Plan, IReadOnlyList<RequestRecord> Records, int NextIndex, string? StoppedEarly);
