using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Flywheel.Structured;

/// <summary>
/// What one schema compile may spend: automaton states (each determinized or NFA state counts), the
/// entries of the state sets that name determinized states (their memory), and wall time; and the
/// token that cancels it when its request goes away. The compile's loops call <see cref="Tick"/> or
/// <see cref="AddState"/>, so a state limit is noticed as it is crossed, and the clock or a
/// cancellation within a fraction of a millisecond. Used by one compile on one thread; not thread-safe.
/// </summary>
internal sealed class CompileBudget
{
    /// <summary>State-set entries allowed per allowed state: a determinized state is named by the NFA states it stands for, usually a handful.</summary>
    public const int SetEntriesPerState = 16;

    /// <summary>NFA states allowed per allowed state: construction makes several per grammar state (whitespace runs, escapes).</summary>
    public const int NfaStatesPerState = 8;

    private readonly long _maxStates;
    private readonly long _maxSetEntries;
    private readonly long _maxNfaStates;
    private readonly TimeSpan _timeout;
    private readonly long _deadline;
    private readonly CancellationToken _cancellationToken;
    private long _states;
    private long _setEntries;
    private long _nfaStates;
    private int _ticks;

    public CompileBudget(int maxStates, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxStates);
        _maxStates = maxStates;
        _maxSetEntries = (long)maxStates * SetEntriesPerState;
        _maxNfaStates = (long)maxStates * NfaStatesPerState;
        _timeout = timeout;
        _deadline = timeout == Timeout.InfiniteTimeSpan ? long.MaxValue
            : Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        _cancellationToken = cancellationToken;
    }

    /// <summary>No limits (the built-in automata: formats, warm-up grammars, shared lazily built DFAs).</summary>
    /// Shared by every thread, so it counts nothing.
    public static CompileBudget Unlimited { get; } = new(int.MaxValue / NfaStatesPerState, Timeout.InfiniteTimeSpan, CancellationToken.None) { _unlimited = true };

    private bool _unlimited;

    /// <summary>Determinized states counted so far (<see cref="AddState"/> calls).</summary>
    public long StateCount => _states;

    /// <summary>Counts <paramref name="count"/> states named by <paramref name="setSize"/> NFA states each, as that many <see cref="AddState"/> calls would.</summary>
    public void AddStates(long count, int setSize)
    {
        for (var k = 0L; k < count; k++)
        {
            AddState(setSize);
        }
    }

    /// <summary>Counts one determinized state named by <paramref name="setSize"/> NFA states.</summary>
    /// <exception cref="SchemaCompileException">The state or set-entry limit is exceeded.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddState(int setSize)
    {
        if (_unlimited)
        {
            return;
        }

        if (++_states > _maxStates)
        {
            throw Refuse($"the grammar needs more than {_maxStates} automaton states (the server's --max-schema-states)");
        }

        _setEntries += Math.Max(setSize, 1);
        if (_setEntries > _maxSetEntries)
        {
            throw Refuse($"determinizing the grammar needs more than {_maxSetEntries} state-set entries ({SetEntriesPerState} per state of --max-schema-states)");
        }

        Tick();
    }

    /// <summary>Counts one NFA state made while building the grammar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddNfaState()
    {
        if (_unlimited)
        {
            return;
        }

        if (++_nfaStates > _maxNfaStates)
        {
            throw Refuse($"building the grammar needs more than {_maxNfaStates} automaton states ({NfaStatesPerState} per state of --max-schema-states)");
        }

        Tick();
    }

    /// <summary>A unit of work: every so often, checks the clock and the cancellation token.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Tick()
    {
        // The clock every 128 units (a few tens of microseconds of work): reading it every 16 was a
        // twentieth of a big compile.
        if (!_unlimited && (++_ticks & 127) == 0)
        {
            Check();
        }
    }

    /// <summary>Throws when the compile was cancelled or its time is up.</summary>
    /// <exception cref="OperationCanceledException">The token was cancelled (the client left, the server drains).</exception>
    /// <exception cref="SchemaCompileException">The time budget is spent.</exception>
    public void Check()
    {
        _cancellationToken.ThrowIfCancellationRequested();
        if (Stopwatch.GetTimestamp() > _deadline)
        {
            throw new SchemaCompileException("(schema)", "#", $"compiling took longer than its budget of {_timeout.TotalSeconds:0.###} s (the server's --schema-compile-timeout)")
            {
                DependsOnLoad = true,
            };
        }
    }

    private static SchemaCompileException Refuse(string reason) => new("(schema)", "#", reason);
}
