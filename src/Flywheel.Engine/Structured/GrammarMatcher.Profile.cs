using System.Diagnostics;

namespace Flywheel.Structured;

/// <summary>
/// Where one mask's time went, for the grammar-corpus benchmark: set <see cref="GrammarMatcher.Profile"/>
/// and every <see cref="GrammarMatcher.ComputeMask"/> overwrites it. Off (null) in serving: the
/// checks cost one null test per phase.
/// </summary>
internal sealed class MaskProfile
{
    /// <summary>The budget was tight: the mask went through KeepTokensThatFit.</summary>
    public bool Tight { get; set; }

    /// <summary>Configurations whose state's cache entry was computed by this mask.</summary>
    public int CacheMisses { get; set; }

    /// <summary>Configurations in the set (each one is a cache lookup, or the end).</summary>
    public int Configurations { get; set; }

    /// <summary>Uncertain tokens handed to ResolveUncertain, over all configurations.</summary>
    public int Uncertain { get; set; }

    /// <summary>Tokens KeepTokensThatFit read from the configurations (those it could not keep unread).</summary>
    public int Pending { get; set; }

    /// <summary>Stopwatch ticks in cache lookups and misses.</summary>
    public long CacheTicks { get; set; }

    /// <summary>Stopwatch ticks in ResolveUncertain.</summary>
    public long ResolveTicks { get; set; }

    /// <summary>Stopwatch ticks in the tight test and KeepTokensThatFit.</summary>
    public long BudgetTicks { get; set; }

    /// <summary>Stopwatch ticks in the tight test alone (part of <see cref="BudgetTicks"/>).</summary>
    public long TightTestTicks { get; set; }

    public void Reset()
    {
        Tight = false;
        CacheMisses = Configurations = Uncertain = Pending = 0;
        CacheTicks = ResolveTicks = BudgetTicks = TightTestTicks = 0;
    }

    public static long Now() => Stopwatch.GetTimestamp();
}

/// <summary>The profiling hook (see <see cref="MaskProfile"/>).</summary>
public sealed partial class GrammarMatcher
{
    /// <summary>When set, each mask records its breakdown here (benchmarks only).</summary>
    internal MaskProfile? Profile { get; set; }
}
