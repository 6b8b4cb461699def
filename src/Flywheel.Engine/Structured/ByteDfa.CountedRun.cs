namespace Flywheel.Structured;

internal sealed partial class ByteDfa
{
    /// <summary>
    /// The search for one counted run <c>S{min,}</c> (see <c>RegexCompiler.EmitRunSearch</c>) built
    /// directly as a counter times a one-character classifier: state (i, q) means "the current run of
    /// S characters is i long (min: at least min, the match is found) and q is where the UTF-8 bytes
    /// of the character being read have got to". Subset construction of the same counter as an NFA
    /// produced an automaton of the same size, but walked, hashed and interned a state set for each of
    /// its tens of thousands of states (<c>.{1000}</c>: 24,000 states, the larger part of its compile).
    /// Here a row is the classifier's row with its targets renamed, computed when asked for: the rows
    /// are never stored (they were 24 MB for <c>.{1000}</c>, garbage once the string was lifted). Refused past
    /// <see cref="MaxStates"/> like any other pattern automaton.
    /// </summary>
    /// <param name="set">S, the characters the run is made of.</param>
    /// <param name="min">The run's least length (positive).</param>
    /// <param name="anchoredStart">The run must start the text (^): a character outside S before the match fails.</param>
    /// <param name="anchoredEnd">The run must end the text ($): a character outside S after the match starts counting again.</param>
    /// <param name="budget">The compile's budget: each state counts.</param>
    public static ByteDfa CountedRunSearch(CodePointSet set, int min, bool anchoredStart, bool anchoredEnd, CompileBudget budget)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(min);

        // The classifier: one character read from state 0, ending in a state of the set's own (the NFA's
        // inS end) or of the complement's (outS). Determinized twice with the same states in the same
        // order, once accepting each end, so that each end's states are known by name, not guessed
        // from their rows.
        var nfa = new ByteNfa(budget);
        var start = nfa.AddState();
        var inS = nfa.AddState();
        var outS = nfa.AddState();
        set.AddTo(nfa, start, inS);
        set.Complement().AddTo(nfa, start, outS);
        var readsS = FromNfa(nfa, start, inS);
        var readsOther = FromNfa(nfa, start, outS);

        // Classifier states still inside a character (the start among them) get a column of the counter.
        var column = new int[readsS.StateCount];
        var width = 0;
        for (var q = 0; q < column.Length; q++)
        {
            column[q] = readsS.IsAccepting(q) || readsOther.IsAccepting(q) ? -1 : width++;
        }

        var count = (long)(min + 1) * width;
        if (count > MaxStates)
        {
            throw new SchemaCompileException("pattern", "#", $"the automaton needs more than {MaxStates} states");
        }

        // Per classifier state and byte, what the move does: a column inside the character (>= 0), or
        // ReadS / ReadOther / None; a counter row is this template with the count put in.
        var template = new int[width << 8];
        for (var q = 0; q < column.Length; q++)
        {
            for (var b = 0; column[q] >= 0 && b < 256; b++)
            {
                var t = readsS.Next(q, (byte)b);
                template[(column[q] << 8) | b] = t < 0 ? Counter.None : column[t] >= 0 ? column[t] : readsS.IsAccepting(t) ? Counter.ReadS : Counter.ReadOther;
            }
        }

        var accept = new bool[count];
        for (var i = 0; i < count; i++)
        {
            budget.AddState(1);
        }

        accept[min * width] = true; // a long enough run, between characters
        var dfa = new ByteDfa([], new Counter(template, width, min, anchoredStart, anchoredEnd), accept);

        // Unanchored at the start, from every state a character of S can follow, and min of them reach
        // the accepting state: nothing to trim (two passes over every row, otherwise). Anchored, the
        // bytes of a character outside S lead nowhere before the match.
        return anchoredStart || set.Ranges.Count == 0 ? dfa.Trim() : dfa;
    }

    private ByteDfa(int[][] chunks, Counter counter, bool[] accept)
        : this(chunks, accept) => _counter = counter;

    /// <summary>
    /// The rows of a counted-run search: state i * width + c is count i, classifier column c; the
    /// template gives per column and byte a column inside the character (>= 0) or what the character
    /// turned out to be.
    /// </summary>
    private sealed class Counter(int[] template, int width, int min, bool anchoredStart, bool anchoredEnd)
    {
        public const int ReadS = -1, ReadOther = -2, None = -3;

        public int Next(int state, byte b)
        {
            var (count, column) = Math.DivRem(state, width);
            var move = template[(column << 8) | b];
            return move >= 0 ? state - column + move
                : move == ReadS ? Math.Min(count + 1, min) * width
                : move == ReadOther ? (count < min ? (anchoredStart ? -1 : 0) : (anchoredEnd ? 0 : min * width))
                : -1;
        }

        public void FillRow(int state, Span<int> row)
        {
            for (var b = 0; b < 256; b++)
            {
                row[b] = Next(state, (byte)b);
            }
        }
    }
}
