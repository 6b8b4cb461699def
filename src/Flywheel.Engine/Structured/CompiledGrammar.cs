namespace Flywheel.Structured;

/// <summary>
/// The runtime form of a grammar: every rule determinized over byte classes and trimmed, all rules'
/// states numbered in one space. A state may move on bytes, may accept (its rule may end there and
/// return to the caller) and may call rules (push a return state, continue at the callee's start).
/// Every state can still reach an accepting state and every called rule accepts some input, so a
/// configuration that exists can always be completed: this is what makes masks dead-end free.
/// Immutable and shareable across threads.
/// </summary>
internal sealed class CompiledGrammar
{
    public const byte FlagBytes = 1, FlagAccept = 2, FlagCalls = 4;

    public CompiledGrammar(byte[] classOf, int classCount, int[] next, byte[] flags, int[] callOffsets, int[] callStarts, int[] callReturns, int rootStart)
    {
        ClassOf = classOf;
        ClassCount = classCount;
        Next = next;
        Flags = flags;
        CallOffsets = callOffsets;
        CallStarts = callStarts;
        CallReturns = callReturns;
        RootStart = rootStart;
    }

    /// <summary>[256]: byte -> equivalence class (bytes no edge distinguishes share a class).</summary>
    public byte[] ClassOf { get; }

    public int ClassCount { get; }

    /// <summary>[StateCount * ClassCount]: next state, -1 = no move.</summary>
    public int[] Next { get; }

    /// <summary>[StateCount]: FlagBytes | FlagAccept | FlagCalls.</summary>
    public byte[] Flags { get; }

    /// <summary>[StateCount + 1]: calls of state s are at [CallOffsets[s], CallOffsets[s+1]).</summary>
    public int[] CallOffsets { get; }

    /// <summary>Start state of the called rule.</summary>
    public int[] CallStarts { get; }

    /// <summary>State of the caller to continue at after the callee accepts.</summary>
    public int[] CallReturns { get; }

    public int RootStart { get; }

    public int StateCount => Flags.Length;

    public int Move(int state, byte b) => Next[(state * ClassCount) + ClassOf[b]];
}
